// Compile-only stub of LiteRT's com.google.ai.edge.litert.Environment (Environment.kt): the
// factory and query the app calls. Every method throws: there is no native runtime here.
package com.google.ai.edge.litert;

import java.util.Set;

public final class Environment implements AutoCloseable {
    private Environment() {}

    public static Environment create() throws LiteRtException {
        throw new UnsupportedOperationException("compile-only LiteRT stub: no native runtime here");
    }

    public Set<Accelerator> getAvailableAccelerators() throws LiteRtException {
        throw new UnsupportedOperationException("compile-only LiteRT stub");
    }

    @Override
    public void close() {}
}
