// Compile-only stub of ONNX Runtime's ai.onnxruntime.OrtSession, its SessionOptions and Result:
// the inputs' and outputs' info, run(), and reading a result by index.
package ai.onnxruntime;

import java.util.Map;

public class OrtSession implements AutoCloseable {
    public static class SessionOptions implements AutoCloseable {
        public SessionOptions() {}

        public void setIntraOpNumThreads(int numThreads) throws OrtException {}

        @Override
        public void close() {}
    }

    public static class Result implements AutoCloseable {
        private Result() {}

        public OnnxValue get(int index) {
            throw new UnsupportedOperationException("compile-only ONNX Runtime stub");
        }

        public int size() {
            throw new UnsupportedOperationException("compile-only ONNX Runtime stub");
        }

        @Override
        public void close() {}
    }

    private OrtSession() {}

    public Map<String, NodeInfo> getInputInfo() throws OrtException {
        throw new UnsupportedOperationException("compile-only ONNX Runtime stub");
    }

    public Map<String, NodeInfo> getOutputInfo() throws OrtException {
        throw new UnsupportedOperationException("compile-only ONNX Runtime stub");
    }

    public Result run(Map<String, ? extends OnnxTensorLike> inputs) throws OrtException {
        throw new UnsupportedOperationException("compile-only ONNX Runtime stub");
    }

    @Override
    public void close() throws OrtException {}
}
