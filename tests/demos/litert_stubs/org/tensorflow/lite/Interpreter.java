// Compile-only stub of LiteRT's org.tensorflow.lite.Interpreter: the constructor and option the
// app uses. Every method throws: tests drive Classifier through their own InterpreterApi.
package org.tensorflow.lite;

import java.nio.ByteBuffer;

public final class Interpreter implements InterpreterApi {
    public static class Options {
        public Options setNumThreads(int numThreads) {
            return this;
        }
    }

    public Interpreter(ByteBuffer byteBuffer, Options options) {
        throw new UnsupportedOperationException("compile-only LiteRT stub: no native runtime here");
    }

    @Override
    public void run(Object input, Object output) {
        throw new UnsupportedOperationException("compile-only LiteRT stub");
    }

    @Override
    public Tensor getInputTensor(int inputIndex) {
        throw new UnsupportedOperationException("compile-only LiteRT stub");
    }

    @Override
    public Tensor getOutputTensor(int outputIndex) {
        throw new UnsupportedOperationException("compile-only LiteRT stub");
    }

    @Override
    public void close() {}
}
