// Compile-only stub of ONNX Runtime's ai.onnxruntime.OrtEnvironment: the process-wide
// environment and session creation from the model's bytes.
package ai.onnxruntime;

public final class OrtEnvironment implements AutoCloseable {
    private OrtEnvironment() {}

    public static OrtEnvironment getEnvironment() {
        throw new UnsupportedOperationException("compile-only ONNX Runtime stub: no native runtime");
    }

    public OrtSession createSession(byte[] modelArray, OrtSession.SessionOptions options)
            throws OrtException {
        throw new UnsupportedOperationException("compile-only ONNX Runtime stub");
    }

    @Override
    public void close() {}
}
