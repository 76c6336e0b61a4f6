// Compile-only stub of ONNX Runtime's ai.onnxruntime.OnnxValue.
package ai.onnxruntime;

public interface OnnxValue extends AutoCloseable {
    Object getValue() throws OrtException;

    @Override
    void close();
}
