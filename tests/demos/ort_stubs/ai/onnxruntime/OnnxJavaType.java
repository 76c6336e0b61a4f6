// Compile-only stub of ONNX Runtime's ai.onnxruntime.OnnxJavaType (the constants of 1.2x).
package ai.onnxruntime;

public enum OnnxJavaType {
    FLOAT,
    DOUBLE,
    INT8,
    INT16,
    INT32,
    INT64,
    BOOL,
    STRING,
    UINT8,
    FLOAT16,
    BFLOAT16,
    UNKNOWN
}
