// Compile-only stub of LiteRT's com.google.ai.edge.litert.CompiledModel (Model.kt), with the
// overloads its @JvmOverloads/@JvmStatic Kotlin declarations give: create, buffers, run.
package com.google.ai.edge.litert;

import java.util.List;

public final class CompiledModel implements AutoCloseable {
    public static final class Options {
        public static final Options CPU = new Options(Accelerator.CPU);

        public Options(Accelerator... accelerators) {}
    }

    private CompiledModel() {}

    public static CompiledModel create(Model model, Options options, Environment optionalEnv)
            throws LiteRtException {
        throw new UnsupportedOperationException("compile-only LiteRT stub: no native runtime here");
    }

    public List<TensorBuffer> createInputBuffers() throws LiteRtException {
        throw new UnsupportedOperationException("compile-only LiteRT stub");
    }

    public List<TensorBuffer> createOutputBuffers() throws LiteRtException {
        throw new UnsupportedOperationException("compile-only LiteRT stub");
    }

    public void run(List<TensorBuffer> inputs, List<TensorBuffer> outputs) throws LiteRtException {
        throw new UnsupportedOperationException("compile-only LiteRT stub");
    }

    @Override
    public void close() {}
}
