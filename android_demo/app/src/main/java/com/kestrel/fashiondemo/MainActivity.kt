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
import com.google.ai.edge.litert.Environment
import com.google.ai.edge.litert.Model

/**
 * Shows the bundled Fashion-MNIST samples and a drawing canvas; classifies either with the
 * bundled int8 .tflite (LiteRT CompiledModel), the bundled .onnx (ONNX Runtime), or both side
 * by side, as the backend switch says. Everything except views, bitmaps and asset access lives
 * in Android-free files (Contract, Preprocess, Classifier, OnnxClassifier, Backends; tested on
 * the JVM) and in the runtime glue (LiteRtModel, OrtModel).
 */
class MainActivity : Activity() {
    private var backends: Backends? = null
    private var liteRtEnv: Environment? = null
    private var choice = BackendChoice.BOTH
    private lateinit var contract: Contract
    private lateinit var labels: List<String>
    private lateinit var result: TextView
    private lateinit var canvas: DrawingView
    private lateinit var backendButton: Button

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        result = findViewById(R.id.result)
        canvas = findViewById(R.id.canvas)
        backendButton = findViewById(R.id.backend)
        try {
            contract = Contract.parse(readAsset(Contract.FILE_NAME))
            labels = parseLabels(readAsset(contract.labelsFile), contract.numClasses)
        } catch (e: Exception) {
            // A missing or malformed contract.json or labels.txt: say which, instead of crashing.
            result.text = getString(R.string.load_failed, e.message ?: e.toString())
            return
        }
        // Each backend loads on its own: a model that disagrees with contract.json, or a
        // runtime that refuses it, disables that backend with its reason on screen.
        val loaded = Backends(
            litert = runCatching { openLiteRt() },
            onnx = contract.onnx?.let { spec -> runCatching { openOnnx(spec) } },
        )
        backends = loaded
        if (!loaded.onnxAvailable) choice = BackendChoice.LITERT
        showSamples()
        showBackend()
        val errors = loaded.loadErrors.entries.joinToString("\n") { (name, reason) ->
            getString(R.string.backend_failed, name, reason)
        }
        if (errors.isNotEmpty()) result.text = errors
        backendButton.setOnClickListener {
            choice = choice.next(loaded.onnxAvailable)
            showBackend()
        }
        findViewById<Button>(R.id.classify).setOnClickListener { classifyDrawing() }
        findViewById<Button>(R.id.clear).setOnClickListener {
            canvas.clear()
            result.setText(R.string.draw_hint)
        }
    }

    override fun onDestroy() {
        backends?.close()
        backends = null
        liteRtEnv?.close()
        liteRtEnv = null
        super.onDestroy()
    }

    /** Checks the .tflite against contract.json, then compiles it with LiteRT (CPU for int8). */
    private fun openLiteRt(): Classifier {
        contract.tfliteFile.verify(readAssetBytes(contract.modelFile))
        val env = Environment.create().also { liteRtEnv = it }
        // The asset is stored uncompressed (app/build.gradle.kts), so LiteRT can map it.
        val model = LiteRtModel.open(Model.load(assets, contract.modelFile), contract, env)
        return try {
            Classifier(model, contract, labels)
        } catch (e: Exception) {
            model.close()
            throw e
        }
    }

    /** Checks the .onnx against contract.json, then opens it with ONNX Runtime on the CPU. */
    private fun openOnnx(spec: OnnxSpec): OnnxClassifier {
        val bytes = readAssetBytes(spec.model.file)
        spec.model.verify(bytes)
        val model = OrtModel.open(bytes)
        return try {
            OnnxClassifier(model, contract, labels)
        } catch (e: Exception) {
            model.close()
            throw e
        }
    }

    private fun readAssetBytes(name: String): ByteArray = assets.open(name).use { it.readBytes() }

    private fun readAsset(name: String): String = readAssetBytes(name).toString(Charsets.UTF_8)

    private fun showBackend() {
        val name = when (choice) {
            BackendChoice.LITERT -> getString(R.string.backend_litert)
            BackendChoice.ONNX_RUNTIME -> getString(R.string.backend_onnx)
            BackendChoice.BOTH -> getString(R.string.backend_both)
        }
        backendButton.text = getString(R.string.backend_button, name)
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
        val loaded = backends ?: return
        val report = loaded.classify(gray, polarity, choice)
        val lines = mutableListOf<String>()
        report.litert?.let { lines += line(Backends.LITERT_NAME, it) }
        report.onnx?.let { lines += line(Backends.ONNX_NAME, it) }
        val litert = (report.litert as? Outcome.Answer)?.prediction
        val onnx = (report.onnx as? Outcome.Answer)?.prediction
        when (report.agree) {
            true -> lines += getString(R.string.agree, 100f * report.scoreDifference!!)
            false -> lines += getString(R.string.disagree, litert!!.label, onnx!!.label)
            null -> {}
        }
        if (truth != null) lines += getString(R.string.true_class, truth)
        result.text = lines.joinToString("\n")
    }

    private fun line(backend: String, outcome: Outcome): String = when (outcome) {
        is Outcome.Answer -> getString(
            R.string.prediction, backend, outcome.prediction.label,
            100f * outcome.prediction.confidence,
        )
        is Outcome.Unavailable -> getString(R.string.backend_failed, backend, outcome.reason)
    }
}
