// Compile-only stub of the Android SDK class of the same name (developer.android.com reference):
// only the members android_demo's UI calls, so that MainActivity.kt and DrawingView.kt type-check
// here. The hierarchy is flattened where the app does not depend on it.
package android.widget;

import android.content.Context;
import android.view.ViewGroup;

public class LinearLayout extends ViewGroup {
    public static class LayoutParams extends ViewGroup.MarginLayoutParams {
        public LayoutParams(int width, int height) {
            super(width, height);
        }
    }

    public LinearLayout(Context context) {
        super(context);
    }
}
