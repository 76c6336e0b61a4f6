// Compile-only stub of the Android SDK class of the same name (developer.android.com reference):
// only the members android_demo's UI calls, so that MainActivity.kt and DrawingView.kt type-check
// here. The hierarchy is flattened where the app does not depend on it.
package android.widget;

import android.content.Context;

public class Button extends TextView {
    public Button(Context context) {
        super(context);
    }
}
