package com.kestrel.fashiondemo

import android.app.Activity
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.drawable.BitmapDrawable
import android.os.Bundle
import android.widget.Button
import android.widget.ImageView
import android.widget.LinearLayout
import android.widget.TextView
import java.io.FileInputStream
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel

/**
 * Shows the bundled Fashion-MNIST samples and a drawing canvas; classifies either with the
 * bundled int8 .tflite. Everything except views and bitmaps lives in the Android-free
 * Contract.kt, Preprocess.kt and Classifier.kt (unit-tested on the JVM).
 */
class MainActivity : Activity() {
    private var classifier: Classifier? = null
    private lateinit var contract: Contract
    private lateinit var labels: List<String>
    private lateinit var result: TextView
    private lateinit var canvas: DrawingView

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        result = findViewById(R.id.result)
        canvas = findViewById(R.id.canvas)
        try {
            contract = Contract.parse(readAsset(Contract.FILE_NAME))
            labels = parseLabels(readAsset(contract.labelsFile), contract.numClasses)
            classifier = Classifier.create(mapAsset(contract.modelFile), contract, labels)
        } catch (e: Exception) {
            // A missing asset, a contract that disagrees with the model, or LiteRT refusing the
            // file: say which, instead of crashing.
            result.text = getString(R.string.load_failed, e.message ?: e.toString())
            return
        }
        showSamples()
        findViewById<Button>(R.id.classify).setOnClickListener { classifyDrawing() }
        findViewById<Button>(R.id.clear).setOnClickListener {
            canvas.clear()
            result.setText(R.string.draw_hint)
        }
    }

    override fun onDestroy() {
        classifier?.close()
        classifier = null
        super.onDestroy()
    }

    private fun readAsset(name: String): String =
        assets.open(name).use { it.readBytes().toString(Charsets.UTF_8) }

    /** Memory-maps an uncompressed asset (app/build.gradle.kts keeps .tflite uncompressed). */
    private fun mapAsset(name: String): MappedByteBuffer =
        assets.openFd(name).use { fd ->
            FileInputStream(fd.fileDescriptor).channel.use { channel ->
                channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
            }
        }

    private fun showSamples() {
        val row = findViewById<LinearLayout>(R.id.samples)
        val size = (64 * resources.displayMetrics.density).toInt()
        for (sample in contract.samples) {
            val bitmap = assets.open(sample.file).use { BitmapFactory.decodeStream(it) } ?: continue
            val drawable = BitmapDrawable(resources, bitmap).apply { isFilterBitmap = false }
            val view = ImageView(this).apply {
                setImageDrawable(drawable)
                scaleType = ImageView.ScaleType.FIT_CENTER
                contentDescription = labels[sample.label]
                layoutParams = LinearLayout.LayoutParams(size, size).apply { marginEnd = size / 8 }
                setOnClickListener { classifySample(bitmap, sample) }
            }
            row.addView(view)
        }
    }

    private fun classifySample(bitmap: Bitmap, sample: Sample) {
        if (bitmap.width != contract.width || bitmap.height != contract.height) {
            result.text = getString(
                R.string.wrong_size, sample.file, bitmap.width, bitmap.height,
                contract.width, contract.height,
            )
            return
        }
        val argb = IntArray(bitmap.width * bitmap.height)
        bitmap.getPixels(argb, 0, bitmap.width, 0, 0, bitmap.width, bitmap.height)
        // The samples are stored in the model's own polarity (light garment on black).
        show(Preprocess.grayFromArgb(argb), contract.polarity, labels[sample.label])
    }

    private fun classifyDrawing() {
        if (canvas.width < contract.width || canvas.height < contract.height) return
        val gray = Preprocess.resizeArea(
            canvas.grayPixels(), canvas.width, canvas.height, contract.width, contract.height,
        )
        show(gray, Polarity.DARK_ON_LIGHT, null)
    }

    private fun show(gray: IntArray, polarity: Polarity, truth: String?) {
        val model = classifier ?: return
        val prediction = model.classify(gray, polarity)
        val text = getString(R.string.prediction, prediction.label, 100f * prediction.confidence)
        result.text = if (truth == null) text else getString(R.string.with_truth, text, truth)
    }
}
