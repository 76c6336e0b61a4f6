// Compile-only stub of the Android SDK class of the same name (developer.android.com reference):
// only the members android_demo's UI calls, so that MainActivity.kt and DrawingView.kt type-check
// here. The hierarchy is flattened where the app does not depend on it.
package android.app;

import android.content.Context;
import android.content.res.AssetManager;
import android.content.res.Resources;
import android.os.Bundle;
import android.view.View;

public class Activity extends Context {
    @Override
    public AssetManager getAssets() {
        throw new UnsupportedOperationException("stub");
    }

    @Override
    public Resources getResources() {
        throw new UnsupportedOperationException("stub");
    }

    protected void onCreate(Bundle savedInstanceState) {}

    protected void onDestroy() {}

    public void setContentView(int layoutResID) {}

    public <T extends View> T findViewById(int id) {
        throw new UnsupportedOperationException("stub");
    }
}
