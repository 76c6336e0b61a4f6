// Compile-only stub of the Android SDK class of the same name (developer.android.com reference):
// only the members android_demo's UI calls, so that MainActivity.kt and DrawingView.kt type-check
// here. The hierarchy is flattened where the app does not depend on it.
package android.view;

import android.content.Context;
import android.graphics.Canvas;
import android.util.AttributeSet;

public class View {
    public interface OnClickListener {
        void onClick(View v);
    }

    public static class MeasureSpec {
        public static int getSize(int measureSpec) {
            throw new UnsupportedOperationException("stub");
        }
    }

    public View(Context context) {}

    public View(Context context, AttributeSet attrs) {}

    protected void onMeasure(int widthMeasureSpec, int heightMeasureSpec) {}

    protected final void setMeasuredDimension(int measuredWidth, int measuredHeight) {}

    protected void onSizeChanged(int w, int h, int oldw, int oldh) {}

    protected void onDraw(Canvas canvas) {}

    public boolean onTouchEvent(MotionEvent event) {
        throw new UnsupportedOperationException("stub");
    }

    public boolean performClick() {
        throw new UnsupportedOperationException("stub");
    }

    public void invalidate() {}

    public final ViewParent getParent() {
        throw new UnsupportedOperationException("stub");
    }

    public final int getWidth() {
        throw new UnsupportedOperationException("stub");
    }

    public final int getHeight() {
        throw new UnsupportedOperationException("stub");
    }

    public void setOnClickListener(OnClickListener l) {}

    public CharSequence getContentDescription() {
        throw new UnsupportedOperationException("stub");
    }

    public void setContentDescription(CharSequence contentDescription) {}

    public ViewGroup.LayoutParams getLayoutParams() {
        throw new UnsupportedOperationException("stub");
    }

    public void setLayoutParams(ViewGroup.LayoutParams params) {}
}
