// Compile-only stub of ONNX Runtime's ai.onnxruntime.OrtException (java/src/main/java in
// microsoft/onnxruntime), so that android_demo's ONNX Runtime glue type-checks here.
package ai.onnxruntime;

public class OrtException extends Exception {
    public OrtException(String message) {
        super(message);
    }
}
