// Compile-only stub of the Android SDK class of the same name (developer.android.com reference):
// only the members android_demo's UI calls, so that MainActivity.kt and DrawingView.kt type-check
// here. The hierarchy is flattened where the app does not depend on it.
package android.widget;

import android.content.Context;
import android.view.View;

public class TextView extends View {
    public TextView(Context context) {
        super(context);
    }

    public CharSequence getText() {
        throw new UnsupportedOperationException("stub");
    }

    public final void setText(CharSequence text) {}

    public final void setText(int resid) {}
}
