package com.kestrel.fashiondemo

import ai.onnxruntime.OnnxJavaType
import com.google.ai.edge.litert.TensorType
import java.io.File

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
    /** The .onnx's float32 output for this sample, from our runtime (runtime.InferenceSession). */
    val onnxOutput: FloatArray,
    val onnxArgmax: Int,
    val onnxScore: Float,
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
                onnxOutput = it.doubles("onnx_output_float32").map(Double::toFloat).toFloatArray(),
                onnxArgmax = it.int("onnx_argmax"),
                onnxScore = it.double("onnx_score").toFloat(),
            )
        }
    }

    /** float32(p) / 255 for p = 0..255, as compiler/bundle.py's normalize_pixels gives it. */
    val pixelFloat32: FloatArray by lazy {
        goldenJson.obj("onnx").doubles("pixel_float32").map(Double::toFloat).toFloatArray()
    }

    /** The .onnx's input and output as golden.json records them (read from the model file). */
    val onnxInput: OnnxTensorSpec by lazy { onnxSpec(goldenJson.obj("onnx").obj("input")) }
    val onnxOutput: OnnxTensorSpec by lazy { onnxSpec(goldenJson.obj("onnx").obj("output")) }

    private fun onnxSpec(json: JsonObject) =
        OnnxTensorSpec(json.string("name"), json.dims("shape"), json.string("dtype"))

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

/** The tensor info ONNX Runtime would report for [this] (-1 for a free dimension), by name. */
fun OnnxTensorSpec.tensorInfo(
    type: OnnxJavaType = OnnxJavaType.FLOAT,
    shape: List<Int?> = this.shape,
): Pair<String, OnnxTensorInfo> =
    name to OnnxTensorInfo(type, shape.map { (it ?: -1).toLong() }.toLongArray())

/** A tensor type as LiteRT's Model reports it. */
fun tensorType(shape: List<Int>, type: TensorType.ElementType = TensorType.ElementType.INT8) =
    TensorType(type, TensorType.Layout(shape.toIntArray(), intArrayOf()))

/**
 * Stands in for the .tflite under LiteRT: records every input the app feeds it and answers with
 * the golden output for that exact input, failing the test on any input no golden sample has.
 */
class GoldenModel(
    private val input: TensorType = tensorType(Bundled.input.shape),
    private val output: TensorType = tensorType(Bundled.output.shape),
) : Int8Model {
    val received = mutableListOf<ByteArray>()
    var closed = false
        private set

    override fun inputType() = input

    override fun outputType() = output

    override fun run(input: ByteArray): ByteArray {
        received += input.copyOf()
        val sample = Bundled.samples.firstOrNull { it.inputInt8.contentEquals(input) }
            ?: failTest("run() got int8 bytes that no golden sample has")
        return sample.outputInt8.copyOf()
    }

    override fun close() {
        closed = true
    }
}

/**
 * Stands in for the .onnx under ONNX Runtime: answers with our runtime's golden float32 output
 * for an input equal bit for bit to a golden sample's x / 255, and fails the test otherwise.
 */
class GoldenOnnxModel(
    private val inputs: Map<String, OnnxTensorInfo> = mapOf(Bundled.onnxInput.tensorInfo()),
    private val outputs: Map<String, OnnxTensorInfo> = mapOf(Bundled.onnxOutput.tensorInfo()),
) : FloatModel {
    val received = mutableListOf<Pair<FloatArray, List<Long>>>()
    var closed = false
        private set

    override fun inputInfo(name: String) = inputs[name] ?: failTest("no input $name")

    override fun outputInfo(name: String) = outputs[name] ?: failTest("no output $name")

    override fun run(inputName: String, input: FloatArray, shape: LongArray): FloatArray {
        if (inputName !in inputs) failTest("run() fed unknown input $inputName")
        received += input.copyOf() to shape.toList()
        val bits = input.map { it.toRawBits() }
        val sample = Bundled.samples.firstOrNull { sample ->
            sample.pixels.map { Bundled.pixelFloat32[it].toRawBits() } == bits
        } ?: failTest("run() got float32 input that no golden sample has")
        return sample.onnxOutput.copyOf()
    }

    override fun close() {
        closed = true
    }
}

/** Fails the test; typed Nothing so it can end an elvis chain (JUnit's fail() returns Unit). */
fun failTest(message: String): Nothing = throw AssertionError(message)
