// Compile-only stub of LiteRT's com.google.ai.edge.litert.LiteRtException (LiteRtException.kt).
package com.google.ai.edge.litert;

public class LiteRtException extends Exception {
    public LiteRtException(int code, String message) {
        super(message);
    }
}
