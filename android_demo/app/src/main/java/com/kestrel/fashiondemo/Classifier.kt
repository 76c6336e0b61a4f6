package com.kestrel.fashiondemo

import com.google.ai.edge.litert.TensorType

/** A model's answer: the winning class, its label and its score (0..1 for softmax). */
data class Prediction(val classIndex: Int, val label: String, val confidence: Float)

/**
 * The int8 .tflite as the classifier sees it: LiteRT's tensor types, and one run from int8
 * input bytes to int8 output bytes. LiteRtModel implements it with LiteRT's CompiledModel; the
 * JUnit tests with the golden data.
 */
interface Int8Model : AutoCloseable {
    fun inputType(): TensorType

    fun outputType(): TensorType

    fun run(input: ByteArray): ByteArray
}

/**
 * Classifies with the bundled int8 .tflite.
 *
 * CompiledModel reports element types and shapes but no quantization, so scale and zero point
 * come from contract.json; the model file's sha256 was checked against the same contract before
 * LiteRT opened it (LiteRtModel.open), which binds those values to these exact bytes. Types and
 * shapes are checked here, so a model that disagrees with its contract is refused.
 */
class Classifier(
    private val model: Int8Model,
    private val contract: Contract,
    private val labels: List<String>,
) : AutoCloseable {
    init {
        checkLabels(labels, contract)
        checkTensor("input", model.inputType(), contract.input)
        checkTensor("output", model.outputType(), contract.output)
    }

    /** Quantizes a height x width 0..255 gray image ([polarity]) exactly as the model expects. */
    fun inputBytes(gray: IntArray, polarity: Polarity = contract.polarity): ByteArray {
        checkImageSize(gray, contract)
        val pixels = Preprocess.toPolarity(gray, polarity, contract.polarity)
        val input = contract.input
        return Preprocess.quantize(pixels, contract.divisor, input.scale, input.zeroPoint)
    }

    /** Classifies a height x width 0..255 gray image given in [polarity]. */
    fun classify(gray: IntArray, polarity: Polarity = contract.polarity): Prediction =
        decode(model.run(inputBytes(gray, polarity)))

    /** Argmax (first maximum on ties) and its dequantized score: scale * (q - zeroPoint). */
    fun decode(scores: ByteArray): Prediction {
        require(scores.size == labels.size) {
            "model gave ${scores.size} scores; expected ${labels.size}"
        }
        var best = 0
        for (i in 1 until scores.size) if (scores[i] > scores[best]) best = i
        val output = contract.output
        val confidence = output.scale * (scores[best] - output.zeroPoint).toFloat()
        return Prediction(best, labels[best], confidence)
    }

    override fun close() = model.close()

    private fun checkTensor(role: String, type: TensorType, spec: TensorSpec) {
        val shape = type.layout?.dimensions?.toList()
        if (type.elementType != TensorType.ElementType.INT8 || shape != spec.shape) {
            throw ContractException(
                "${contract.modelFile} $role must be INT8 ${spec.shape} as " +
                    "${Contract.FILE_NAME} says. Received: ${type.elementType} $shape"
            )
        }
    }
}

internal fun checkLabels(labels: List<String>, contract: Contract) {
    if (labels.size != contract.numClasses) {
        throw ContractException(
            "${contract.labelsFile} has ${labels.size} labels; " +
                "${Contract.FILE_NAME} says ${contract.numClasses}"
        )
    }
}

internal fun checkImageSize(gray: IntArray, contract: Contract) {
    if (gray.size != contract.height * contract.width) {
        throw IllegalArgumentException(
            "image has ${gray.size} pixels; expected ${contract.height} x ${contract.width}"
        )
    }
}
