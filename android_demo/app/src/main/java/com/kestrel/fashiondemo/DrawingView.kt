package com.kestrel.fashiondemo

import android.content.Context
import android.graphics.Bitmap
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.graphics.Path
import android.util.AttributeSet
import android.view.MotionEvent
import android.view.View

/**
 * A square white canvas to draw a garment on in thick black strokes. The strokes are dark on
 * light, the opposite of Fashion-MNIST, so the caller classifies with Polarity.DARK_ON_LIGHT
 * and Preprocess inverts.
 */
class DrawingView(context: Context, attrs: AttributeSet?) : View(context, attrs) {
    private val path = Path()
    private val paint = Paint(Paint.ANTI_ALIAS_FLAG).apply {
        color = Color.BLACK
        style = Paint.Style.STROKE
        strokeCap = Paint.Cap.ROUND
        strokeJoin = Paint.Join.ROUND
    }

    override fun onMeasure(widthMeasureSpec: Int, heightMeasureSpec: Int) {
        val size = MeasureSpec.getSize(widthMeasureSpec)
        setMeasuredDimension(size, size)
    }

    override fun onSizeChanged(w: Int, h: Int, oldw: Int, oldh: Int) {
        super.onSizeChanged(w, h, oldw, oldh)
        // About two model pixels wide once shrunk to 28x28.
        paint.strokeWidth = w / 14f
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        canvas.drawColor(Color.WHITE)
        canvas.drawPath(path, paint)
    }

    override fun onTouchEvent(event: MotionEvent): Boolean {
        when (event.actionMasked) {
            MotionEvent.ACTION_DOWN -> {
                // Keep the enclosing ScrollView from stealing vertical strokes.
                parent?.requestDisallowInterceptTouchEvent(true)
                path.moveTo(event.x, event.y)
                path.lineTo(event.x + 0.1f, event.y)
            }
            MotionEvent.ACTION_MOVE -> path.lineTo(event.x, event.y)
            MotionEvent.ACTION_UP -> performClick()
            else -> return false
        }
        invalidate()
        return true
    }

    override fun performClick(): Boolean = super.performClick()

    fun clear() {
        path.reset()
        invalidate()
    }

    /** The canvas as width x height 0..255 gray, dark strokes on white. */
    fun grayPixels(): IntArray {
        val bitmap = Bitmap.createBitmap(width, height, Bitmap.Config.ARGB_8888)
        Canvas(bitmap).apply {
            drawColor(Color.WHITE)
            drawPath(path, paint)
        }
        val argb = IntArray(width * height)
        bitmap.getPixels(argb, 0, width, 0, 0, width, height)
        bitmap.recycle()
        return Preprocess.grayFromArgb(argb)
    }
}
