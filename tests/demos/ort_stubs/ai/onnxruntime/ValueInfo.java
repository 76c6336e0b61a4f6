// Compile-only stub of ONNX Runtime's ai.onnxruntime.ValueInfo (marker interface).
package ai.onnxruntime;

public interface ValueInfo {}
