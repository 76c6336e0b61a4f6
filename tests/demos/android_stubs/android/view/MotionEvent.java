// Compile-only stub of the Android SDK class of the same name (developer.android.com reference):
// only the members android_demo's UI calls, so that MainActivity.kt and DrawingView.kt type-check
// here. The hierarchy is flattened where the app does not depend on it.
package android.view;

public final class MotionEvent {
    public static final int ACTION_DOWN = 0;
    public static final int ACTION_UP = 1;
    public static final int ACTION_MOVE = 2;

    public int getActionMasked() {
        throw new UnsupportedOperationException("stub");
    }

    public float getX() {
        throw new UnsupportedOperationException("stub");
    }

    public float getY() {
        throw new UnsupportedOperationException("stub");
    }
}
