// Compile-only stub of ONNX Runtime's ai.onnxruntime.TensorInfo: the public field `type` and
// getShape() (-1 for a dimension without a fixed size). Made only by ONNX Runtime.
package ai.onnxruntime;

public class TensorInfo implements ValueInfo {
    private final long[] shape;
    public final OnnxJavaType type;

    TensorInfo(long[] shape, OnnxJavaType type) {
        this.shape = shape;
        this.type = type;
    }

    public long[] getShape() {
        return shape.clone();
    }
}
