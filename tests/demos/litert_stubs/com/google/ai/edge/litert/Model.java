// Compile-only stub of LiteRT's com.google.ai.edge.litert.Model (Model.kt): loading from the
// app's assets or a file, and the tensor types by name (signature null: the default one).
package com.google.ai.edge.litert;

import android.content.res.AssetManager;

public final class Model implements AutoCloseable {
    private Model() {}

    public static Model load(AssetManager assetManager, String assetName) throws LiteRtException {
        throw new UnsupportedOperationException("compile-only LiteRT stub: no native runtime here");
    }

    public static Model load(String filePath) throws LiteRtException {
        throw new UnsupportedOperationException("compile-only LiteRT stub: no native runtime here");
    }

    public TensorType getInputTensorType(String inputName, String signature) {
        throw new UnsupportedOperationException("compile-only LiteRT stub");
    }

    public TensorType getOutputTensorType(String outputName, String signature) {
        throw new UnsupportedOperationException("compile-only LiteRT stub");
    }

    @Override
    public void close() {}
}
