package com.kestrel.fashiondemo

import java.io.File
import java.lang.reflect.InvocationHandler
import java.lang.reflect.Proxy
import java.nio.ByteBuffer
import org.tensorflow.lite.DataType
import org.tensorflow.lite.InterpreterApi
import org.tensorflow.lite.Tensor

/** One of golden.json's quantize_cases: pixels 0..255 in order, quantized by Python. */
class QuantizeCase(val scale: Float, val zeroPoint: Int, val int8: ByteArray)

/** One sample of golden.json: what compiler/bundle.py computed from the real model. */
class GoldenSample(
    val file: String,
    val label: Int,
    val pixels: IntArray,
    val inputInt8: ByteArray,
    val outputInt8: ByteArray,
    val argmax: Int,
    val confidence: Float,
)

/**
 * The bundled files and the golden data, found through system properties `demo.assets` and
 * `demo.golden` (set by tests/demos) or, under Gradle, the module's own assets and test resources.
 */
object Bundled {
    val assets: File = File(System.getProperty("demo.assets") ?: "src/main/assets")

    private val goldenJson: JsonObject by lazy {
        val path = System.getProperty("demo.golden")
        val text = if (path != null) {
            File(path).readText()
        } else {
            val url = Bundled::class.java.classLoader.getResource("golden.json")
                ?: error("golden.json is not on the test classpath: run compiler.bundle first")
            url.readText()
        }
        JsonObject.parse(text, "golden.json")
    }

    val contract: Contract by lazy { Contract.parse(File(assets, Contract.FILE_NAME).readText()) }

    val labels: List<String> by lazy {
        parseLabels(File(assets, contract.labelsFile).readText(), contract.numClasses)
    }

    val input: TensorSpec by lazy { spec(goldenJson.obj("input")) }
    val output: TensorSpec by lazy { spec(goldenJson.obj("output")) }

    val samples: List<GoldenSample> by lazy {
        goldenJson.objects("samples").map {
            GoldenSample(
                file = it.string("file"),
                label = it.int("label"),
                pixels = it.ints("pixels").toIntArray(),
                inputInt8 = it.ints("input_int8").map(Int::toByte).toByteArray(),
                outputInt8 = it.ints("output_int8").map(Int::toByte).toByteArray(),
                argmax = it.int("argmax"),
                confidence = it.double("confidence").toFloat(),
            )
        }
    }

    val quantizeCases: List<QuantizeCase> by lazy {
        goldenJson.objects("quantize_cases").map {
            QuantizeCase(
                it.double("scale").toFloat(),
                it.int("zero_point"),
                it.ints("int8").map(Int::toByte).toByteArray(),
            )
        }
    }

    private fun spec(json: JsonObject) = TensorSpec(
        json.string("name"), json.ints("shape"), json.string("dtype"),
        json.double("scale").toFloat(), json.int("zero_point"),
    )
}

/** A tensor as LiteRT would report it (a proxy, so it implements whatever the real interface has). */
fun fakeTensor(spec: TensorSpec, dataType: DataType = DataType.INT8): Tensor =
    proxy(Tensor::class.java) { name, _ ->
        when (name) {
            "dataType" -> dataType
            "shape" -> spec.shape.toIntArray()
            "quantizationParams" -> Tensor.QuantizationParams(spec.scale, spec.zeroPoint)
            else -> null
        }
    }

/**
 * Stands in for the model: records every input LiteRT would receive and answers with the golden
 * output for that exact input, failing the test on any input no golden sample has.
 */
class GoldenModel(
    private val input: Tensor = fakeTensor(Bundled.input),
    private val output: Tensor = fakeTensor(Bundled.output),
) {
    val received = mutableListOf<ByteArray>()
    var closed = false
        private set

    val interpreter: InterpreterApi = proxy(InterpreterApi::class.java) { name, args ->
        when (name) {
            "getInputTensor" -> input
            "getOutputTensor" -> output
            "run" -> { run(args!![0], args[1]); Unit }
            "close" -> { closed = true; Unit }
            else -> null
        }
    }

    private fun run(input: Any?, output: Any?) {
        val buffer = input as? ByteBuffer ?: failTest("run() input is not a ByteBuffer: $input")
        if (!buffer.isDirect) failTest("run() input must be a direct ByteBuffer")
        val bytes = ByteArray(buffer.remaining())
        buffer.duplicate().get(bytes)
        received += bytes
        val sample = Bundled.samples.firstOrNull { it.inputInt8.contentEquals(bytes) }
            ?: failTest("run() got int8 bytes that no golden sample has")
        @Suppress("UNCHECKED_CAST")
        val out = output as Array<ByteArray>
        sample.outputInt8.copyInto(out[0])
    }
}

private fun <T> proxy(type: Class<T>, answer: (String, Array<out Any?>?) -> Any?): T {
    val handler = InvocationHandler { _, method, args ->
        when (method.name) {
            "toString" -> "fake ${type.simpleName}"
            "hashCode" -> 0
            "equals" -> false
            else -> answer(method.name, args)
                ?: throw UnsupportedOperationException("fake ${type.simpleName}.${method.name}")
        }
    }
    return type.cast(Proxy.newProxyInstance(type.classLoader, arrayOf(type), handler))
}

/** Fails the test; typed Nothing so it can end an elvis chain (JUnit's fail() returns Unit). */
fun failTest(message: String): Nothing = throw AssertionError(message)
