// Compile-only stub of LiteRT's com.google.ai.edge.litert.TensorBuffer (TensorBuffer.kt): the
// typed reads and writes of host memory.
package com.google.ai.edge.litert;

public final class TensorBuffer implements AutoCloseable {
    private TensorBuffer() {}

    public void writeInt8(byte[] data) throws LiteRtException {
        throw new UnsupportedOperationException("compile-only LiteRT stub");
    }

    public byte[] readInt8() throws LiteRtException {
        throw new UnsupportedOperationException("compile-only LiteRT stub");
    }

    public void writeFloat(float[] data) throws LiteRtException {
        throw new UnsupportedOperationException("compile-only LiteRT stub");
    }

    public float[] readFloat() throws LiteRtException {
        throw new UnsupportedOperationException("compile-only LiteRT stub");
    }

    @Override
    public void close() {}
}
