// Compile-only stub of the Android SDK class of the same name (developer.android.com reference):
// only the members android_demo's UI calls, so that MainActivity.kt and DrawingView.kt type-check
// here. The hierarchy is flattened where the app does not depend on it.
package android.graphics;

public final class Bitmap {
    public enum Config {
        ALPHA_8,
        RGB_565,
        ARGB_8888
    }

    public static Bitmap createBitmap(int width, int height, Config config) {
        throw new UnsupportedOperationException("stub");
    }

    public int getWidth() {
        throw new UnsupportedOperationException("stub");
    }

    public int getHeight() {
        throw new UnsupportedOperationException("stub");
    }

    public void getPixels(int[] pixels, int offset, int stride, int x, int y, int width, int height) {}

    public void recycle() {}
}
