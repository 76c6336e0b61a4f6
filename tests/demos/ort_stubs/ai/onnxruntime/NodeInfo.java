// Compile-only stub of ONNX Runtime's ai.onnxruntime.NodeInfo: a model input's or output's
// name and value info. Made only by ONNX Runtime.
package ai.onnxruntime;

public class NodeInfo {
    private final String name;
    private final ValueInfo info;

    NodeInfo(String name, ValueInfo info) {
        this.name = name;
        this.info = info;
    }

    public String getName() {
        return name;
    }

    public ValueInfo getInfo() {
        return info;
    }
}
