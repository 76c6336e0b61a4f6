// Compile-only stub of the Android SDK class of the same name (developer.android.com reference):
// only the members android_demo's UI calls, so that MainActivity.kt and DrawingView.kt type-check
// here. The hierarchy is flattened where the app does not depend on it.
package android.graphics;

public class Paint {
    public static final int ANTI_ALIAS_FLAG = 1;

    public enum Style {
        FILL,
        STROKE,
        FILL_AND_STROKE
    }

    public enum Cap {
        BUTT,
        ROUND,
        SQUARE
    }

    public enum Join {
        MITER,
        ROUND,
        BEVEL
    }

    public Paint(int flags) {}

    public int getColor() {
        throw new UnsupportedOperationException("stub");
    }

    public void setColor(int color) {}

    public Style getStyle() {
        throw new UnsupportedOperationException("stub");
    }

    public void setStyle(Style style) {}

    public Cap getStrokeCap() {
        throw new UnsupportedOperationException("stub");
    }

    public void setStrokeCap(Cap cap) {}

    public Join getStrokeJoin() {
        throw new UnsupportedOperationException("stub");
    }

    public void setStrokeJoin(Join join) {}

    public float getStrokeWidth() {
        throw new UnsupportedOperationException("stub");
    }

    public void setStrokeWidth(float width) {}
}
