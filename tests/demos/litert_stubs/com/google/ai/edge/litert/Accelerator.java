// Compile-only stub of LiteRT's com.google.ai.edge.litert.Accelerator (Common.kt in
// google-ai-edge/LiteRT, litert/kotlin/src/main/kotlin/com/google/ai/edge/litert).
package com.google.ai.edge.litert;

public enum Accelerator {
    NONE(0),
    CPU(1),
    GPU(2),
    NPU(3);

    private final int value;

    Accelerator(int value) {
        this.value = value;
    }

    public int getValue() {
        return value;
    }
}
