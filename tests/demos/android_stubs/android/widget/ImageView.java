// Compile-only stub of the Android SDK class of the same name (developer.android.com reference):
// only the members android_demo's UI calls, so that MainActivity.kt and DrawingView.kt type-check
// here. The hierarchy is flattened where the app does not depend on it.
package android.widget;

import android.content.Context;
import android.graphics.drawable.Drawable;
import android.view.View;

public class ImageView extends View {
    public enum ScaleType {
        MATRIX,
        FIT_XY,
        FIT_START,
        FIT_CENTER,
        FIT_END,
        CENTER,
        CENTER_CROP,
        CENTER_INSIDE
    }

    public ImageView(Context context) {
        super(context);
    }

    public void setImageDrawable(Drawable drawable) {}

    public ScaleType getScaleType() {
        throw new UnsupportedOperationException("stub");
    }

    public void setScaleType(ScaleType scaleType) {}
}
