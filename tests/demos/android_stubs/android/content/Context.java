// Compile-only stub of the Android SDK class of the same name (developer.android.com reference):
// only the members android_demo's UI calls, so that MainActivity.kt and DrawingView.kt type-check
// here. The hierarchy is flattened where the app does not depend on it.
package android.content;

import android.content.res.AssetManager;
import android.content.res.Resources;

public abstract class Context {
    public abstract AssetManager getAssets();

    public abstract Resources getResources();

    public final String getString(int resId) {
        throw new UnsupportedOperationException("stub");
    }

    public final String getString(int resId, Object... formatArgs) {
        throw new UnsupportedOperationException("stub");
    }
}
