package com.kestrel.fashiondemo

import com.google.ai.edge.litert.Accelerator
import kotlin.math.abs

/** Which runtime classifies: LiteRT (.tflite), ONNX Runtime (.onnx), or both side by side. */
enum class BackendChoice {
    LITERT,
    ONNX_RUNTIME,
    BOTH;

    /** The next choice of the UI's switch; with no usable .onnx only LiteRT remains. */
    fun next(onnxAvailable: Boolean): BackendChoice =
        if (!onnxAvailable) LITERT else entries[(ordinal + 1) % entries.size]
}

/**
 * LiteRT accelerators to try, in order. An int8 model runs on the CPU (LiteRT's GPU delegate
 * computes in float and does not take full-int8 models); a float model tries the GPU when the
 * device has one and falls back to the CPU.
 */
fun acceleratorPlan(modelDtype: String, available: Set<Accelerator>): List<Accelerator> =
    if (modelDtype == "float32" && Accelerator.GPU in available) {
        listOf(Accelerator.GPU, Accelerator.CPU)
    } else {
        listOf(Accelerator.CPU)
    }

/** Opens with the first accelerator that works; rethrows the last failure when none does. */
fun <T> firstThatOpens(plan: List<Accelerator>, open: (Accelerator) -> T): Pair<T, Accelerator> {
    require(plan.isNotEmpty()) { "no accelerator to try" }
    var failure: Exception? = null
    for (accelerator in plan) {
        try {
            return open(accelerator) to accelerator
        } catch (e: Exception) {
            failure = e
        }
    }
    throw failure!!
}

/** One backend's outcome for one image: an answer, or why that backend has none. */
sealed class Outcome {
    data class Answer(val prediction: Prediction) : Outcome()

    data class Unavailable(val reason: String) : Outcome()
}

/**
 * What the screen shows for one image: each chosen backend's outcome and, when both answered,
 * whether they agree (same class) and how far apart their scores are.
 */
data class Report(val litert: Outcome?, val onnx: Outcome?) {
    private val both: Pair<Prediction, Prediction>?
        get() {
            val a = (litert as? Outcome.Answer)?.prediction ?: return null
            val b = (onnx as? Outcome.Answer)?.prediction ?: return null
            return a to b
        }

    /** True or false when both backends answered, else null. */
    val agree: Boolean? get() = both?.let { (a, b) -> a.classIndex == b.classIndex }

    /** |score difference| when both answered, else null. */
    val scoreDifference: Float? get() = both?.let { (a, b) -> abs(a.confidence - b.confidence) }
}

/**
 * Both backends of the app, each either loaded or refused with the reason (a model that
 * disagrees with contract.json, a missing file, the runtime refusing it); runs an image
 * through the chosen ones.
 */
class Backends(
    private val litert: Result<Classifier>,
    private val onnx: Result<OnnxClassifier>?,
) : AutoCloseable {
    val onnxAvailable: Boolean get() = onnx?.isSuccess == true

    /** Load failures to show on screen at start, by backend name. */
    val loadErrors: Map<String, String>
        get() = buildMap {
            litert.exceptionOrNull()?.let { put(LITERT_NAME, reason(it)) }
            onnx?.exceptionOrNull()?.let { put(ONNX_NAME, reason(it)) }
        }

    fun classify(gray: IntArray, polarity: Polarity, choice: BackendChoice): Report {
        val useLiteRt = choice != BackendChoice.ONNX_RUNTIME
        val useOnnx = choice != BackendChoice.LITERT
        return Report(
            litert = if (useLiteRt) run(litert) { it.classify(gray, polarity) } else null,
            onnx = if (useOnnx) run(onnx) { it.classify(gray, polarity) } else null,
        )
    }

    private fun <T> run(backend: Result<T>?, classify: (T) -> Prediction): Outcome {
        if (backend == null) return Outcome.Unavailable("the bundle has no .onnx model")
        val model = backend.getOrElse { return Outcome.Unavailable(reason(it)) }
        return try {
            Outcome.Answer(classify(model))
        } catch (e: Exception) {
            Outcome.Unavailable(reason(e))
        }
    }

    override fun close() {
        litert.getOrNull()?.close()
        onnx?.getOrNull()?.close()
    }

    companion object {
        const val LITERT_NAME = "LiteRT"
        const val ONNX_NAME = "ONNX Runtime"

        private fun reason(error: Throwable) = error.message ?: error.toString()
    }
}
