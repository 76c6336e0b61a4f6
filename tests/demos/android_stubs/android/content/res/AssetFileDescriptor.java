// Compile-only stub of the Android SDK class of the same name (developer.android.com reference):
// only the members android_demo's UI calls, so that MainActivity.kt and DrawingView.kt type-check
// here. The hierarchy is flattened where the app does not depend on it.
package android.content.res;

import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.IOException;

public class AssetFileDescriptor implements Closeable {
    public FileDescriptor getFileDescriptor() {
        throw new UnsupportedOperationException("stub");
    }

    public long getStartOffset() {
        throw new UnsupportedOperationException("stub");
    }

    public long getDeclaredLength() {
        throw new UnsupportedOperationException("stub");
    }

    @Override
    public void close() throws IOException {}
}
