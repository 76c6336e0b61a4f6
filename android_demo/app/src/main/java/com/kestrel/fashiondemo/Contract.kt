package com.kestrel.fashiondemo

import java.security.MessageDigest

/** contract.json, labels.txt and the model disagree with each other or with what the app needs. */
class ContractException(message: String) : IllegalArgumentException(message)

/** One model tensor as contract.json declares it; the model itself must say the same. */
data class TensorSpec(
    val name: String,
    val shape: List<Int>,
    val dtype: String,
    val scale: Float,
    val zeroPoint: Int,
)

/** A bundled model file as contract.json describes it: the app checks size and sha256. */
data class ModelFile(val file: String, val bytes: Long, val sha256: String) {
    /** Refuses [data] unless its size and sha256 are the contract's. */
    fun verify(data: ByteArray) {
        if (data.size.toLong() != bytes) {
            throw ContractException(
                "$file has ${data.size} bytes; ${Contract.FILE_NAME} says $bytes"
            )
        }
        val digest = MessageDigest.getInstance("SHA-256").digest(data)
        val hex = digest.joinToString("") { "%02x".format(it.toInt() and 0xFF) }
        if (hex != sha256) {
            throw ContractException("$file has sha256 $hex; ${Contract.FILE_NAME} says $sha256")
        }
    }
}

/** An ONNX input or output as contract.json declares it (null: a dimension of any size). */
data class OnnxTensorSpec(val name: String, val shape: List<Int?>, val dtype: String)

/** The bundled .onnx: its file and its one input and one output. */
data class OnnxSpec(val model: ModelFile, val input: OnnxTensorSpec, val output: OnnxTensorSpec)

/** A bundled test image (a path inside the app's assets) and its true class. */
data class Sample(val file: String, val label: Int)

/**
 * What the exporter wrote about the bundled model (compiler/bundle.py), read from contract.json.
 *
 * The app takes everything it must not hard-code from here: file names, image size, polarity,
 * normalization divisor. Scale and zero point are read from the model at run time and checked
 * against the values here.
 */
data class Contract(
    val modelFile: String,
    val modelBytes: Long,
    val modelSha256: String,
    val input: TensorSpec,
    val output: TensorSpec,
    val labelsFile: String,
    val numClasses: Int,
    val height: Int,
    val width: Int,
    val polarity: Polarity,
    val divisor: Float,
    val samples: List<Sample>,
    /** The .onnx, when the bundle has one. */
    val onnx: OnnxSpec? = null,
) {
    /** The .tflite's file entry. */
    val tfliteFile: ModelFile get() = ModelFile(modelFile, modelBytes, modelSha256)

    companion object {
        const val FILE_NAME = "contract.json"
        const val VERSION = 1

        fun parse(text: String): Contract {
            val root = JsonObject.parse(text, FILE_NAME)
            val version = root.int("contract_version")
            if (version != VERSION) {
                throw ContractException(
                    "$FILE_NAME has contract_version $version; this app reads version $VERSION"
                )
            }
            val tflite = root.obj("models").obj("tflite")
            val image = root.obj("image")
            val normalization = image.obj("normalization")
            if (normalization.string("rule") != "x/255") {
                throw ContractException(
                    "$FILE_NAME image.normalization.rule must be \"x/255\". " +
                        "Received: \"${normalization.string("rule")}\""
                )
            }
            val rounding = image.string("quantize_rounding")
            if (rounding != "half_away_from_zero") {
                throw ContractException(
                    "$FILE_NAME image.quantize_rounding must be \"half_away_from_zero\". " +
                        "Received: \"$rounding\""
                )
            }
            val contract = Contract(
                modelFile = tflite.string("file"),
                modelBytes = tflite.double("bytes").toLong(),
                modelSha256 = tflite.string("sha256").lowercase(),
                input = tensor(tflite.obj("input")),
                output = tensor(tflite.obj("output")),
                labelsFile = root.string("labels_file"),
                numClasses = root.int("num_classes"),
                height = image.int("height"),
                width = image.int("width"),
                polarity = Polarity.fromContract(image.string("polarity")),
                divisor = normalization.double("divisor").toFloat(),
                samples = root.objects("samples").map { Sample(it.string("file"), it.int("label")) },
                onnx = root.obj("models").let { if (it.has("onnx")) onnx(it.obj("onnx")) else null },
            )
            contract.check()
            return contract
        }

        private fun onnx(json: JsonObject) = OnnxSpec(
            model = ModelFile(
                json.string("file"),
                json.double("bytes").toLong(),
                json.string("sha256").lowercase(),
            ),
            input = onnxTensor(json.obj("input")),
            output = onnxTensor(json.obj("output")),
        )

        private fun onnxTensor(json: JsonObject) =
            OnnxTensorSpec(json.string("name"), json.dims("shape"), json.string("dtype"))

        private fun tensor(json: JsonObject) = TensorSpec(
            name = json.string("name"),
            shape = json.ints("shape"),
            dtype = json.string("dtype"),
            scale = json.double("scale").toFloat(),
            zeroPoint = json.int("zero_point"),
        )
    }

    private fun check() {
        val expectedInput = listOf(1, height, width, 1)
        if (input.shape != expectedInput || input.dtype != "int8") {
            throw ContractException(
                "$FILE_NAME input must be int8 $expectedInput. " +
                    "Received: ${input.dtype} ${input.shape}"
            )
        }
        if (output.shape != listOf(1, numClasses) || output.dtype != "int8") {
            throw ContractException(
                "$FILE_NAME output must be int8 [1, $numClasses]. " +
                    "Received: ${output.dtype} ${output.shape}"
            )
        }
        val badLabel = samples.firstOrNull { it.label !in 0 until numClasses }
        if (badLabel != null) {
            throw ContractException(
                "$FILE_NAME sample ${badLabel.file} has label ${badLabel.label}; " +
                    "expected 0..${numClasses - 1}"
            )
        }
    }
}

/**
 * Reads labels.txt: one class name per line, in class-index order (a final newline is allowed,
 * blank lines are not).
 */
fun parseLabels(text: String, expectedCount: Int): List<String> {
    val lines = text.removeSuffix("\n").split("\n").map { it.removeSuffix("\r") }
    if (lines.size != expectedCount || lines.any { it.isBlank() }) {
        throw ContractException(
            "labels.txt must hold $expectedCount non-blank lines. " +
                "Received ${lines.size} lines: $lines"
        )
    }
    return lines
}
