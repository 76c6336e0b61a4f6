// Compile-only stub of the Android SDK class of the same name (developer.android.com reference):
// only the members android_demo's UI calls, so that MainActivity.kt and DrawingView.kt type-check
// here. The hierarchy is flattened where the app does not depend on it.
package android.view;

import android.content.Context;

public abstract class ViewGroup extends View {
    public static class LayoutParams {
        public LayoutParams(int width, int height) {}
    }

    public static class MarginLayoutParams extends LayoutParams {
        public MarginLayoutParams(int width, int height) {
            super(width, height);
        }

        public int getMarginEnd() {
            throw new UnsupportedOperationException("stub");
        }

        public void setMarginEnd(int end) {}
    }

    public ViewGroup(Context context) {
        super(context);
    }

    public void addView(View child) {}
}
