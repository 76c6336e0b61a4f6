// Compile-only stub of the Android SDK class of the same name (developer.android.com reference):
// only the members android_demo's UI calls, so that MainActivity.kt and DrawingView.kt type-check
// here. The hierarchy is flattened where the app does not depend on it.
package android.graphics;

import java.io.InputStream;

public class BitmapFactory {
    public static Bitmap decodeStream(InputStream is) {
        throw new UnsupportedOperationException("stub");
    }
}
