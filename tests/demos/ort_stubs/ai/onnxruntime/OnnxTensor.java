// Compile-only stub of ONNX Runtime's ai.onnxruntime.OnnxTensor: creating a float tensor from
// a buffer and a shape, and reading a float tensor back. Every method throws.
package ai.onnxruntime;

import java.nio.FloatBuffer;

public class OnnxTensor extends OnnxTensorLike {
    private OnnxTensor() {}

    public static OnnxTensor createTensor(OrtEnvironment env, FloatBuffer data, long[] shape)
            throws OrtException {
        throw new UnsupportedOperationException("compile-only ONNX Runtime stub");
    }

    public FloatBuffer getFloatBuffer() {
        throw new UnsupportedOperationException("compile-only ONNX Runtime stub");
    }

    public TensorInfo getInfo() {
        throw new UnsupportedOperationException("compile-only ONNX Runtime stub");
    }

    @Override
    public Object getValue() throws OrtException {
        throw new UnsupportedOperationException("compile-only ONNX Runtime stub");
    }

    @Override
    public void close() {}
}
