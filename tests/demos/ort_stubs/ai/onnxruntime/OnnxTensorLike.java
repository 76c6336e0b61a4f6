// Compile-only stub of ONNX Runtime's ai.onnxruntime.OnnxTensorLike (what run() accepts).
package ai.onnxruntime;

public abstract class OnnxTensorLike implements OnnxValue {}
