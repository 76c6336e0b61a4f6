package com.kestrel.fashiondemo

import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.security.MessageDigest
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.InterpreterApi
import org.tensorflow.lite.Tensor

/** The model's answer: the winning class, its label and its dequantized score (0..1 for softmax). */
data class Prediction(val classIndex: Int, val label: String, val confidence: Float)

/**
 * Runs the bundled int8 .tflite with LiteRT's Interpreter API.
 *
 * Scale and zero point come from the model's own tensors at run time; the constructor checks
 * that dtype, shape and quantization agree with contract.json, so a model swapped without its
 * contract fails loudly instead of answering nonsense.
 */
class Classifier(
    private val interpreter: InterpreterApi,
    private val contract: Contract,
    private val labels: List<String>,
) : AutoCloseable {
    private val inputScale: Float
    private val inputZeroPoint: Int
    private val outputScale: Float
    private val outputZeroPoint: Int
    private val inputBuffer: ByteBuffer =
        ByteBuffer.allocateDirect(contract.height * contract.width).order(ByteOrder.nativeOrder())

    init {
        if (labels.size != contract.numClasses) {
            throw ContractException(
                "${contract.labelsFile} has ${labels.size} labels; " +
                    "${Contract.FILE_NAME} says ${contract.numClasses}"
            )
        }
        val input = checkTensor("input", interpreter.getInputTensor(0), contract.input)
        inputScale = input.scale
        inputZeroPoint = input.zeroPoint
        val output = checkTensor("output", interpreter.getOutputTensor(0), contract.output)
        outputScale = output.scale
        outputZeroPoint = output.zeroPoint
    }

    /** Quantizes a height x width 0..255 gray image (in [polarity]) exactly as the model expects. */
    fun inputBytes(gray: IntArray, polarity: Polarity = contract.polarity): ByteArray {
        if (gray.size != contract.height * contract.width) {
            throw IllegalArgumentException(
                "image has ${gray.size} pixels; expected ${contract.height} x ${contract.width}"
            )
        }
        val pixels = Preprocess.toPolarity(gray, polarity, contract.polarity)
        return Preprocess.quantize(pixels, contract.divisor, inputScale, inputZeroPoint)
    }

    /** Classifies a height x width 0..255 gray image given in [polarity]. */
    fun classify(gray: IntArray, polarity: Polarity = contract.polarity): Prediction {
        inputBuffer.clear()
        inputBuffer.put(inputBytes(gray, polarity))
        inputBuffer.rewind()
        val output = Array(1) { ByteArray(contract.numClasses) }
        interpreter.run(inputBuffer, output)
        return decode(output[0])
    }

    /** Argmax (first maximum on ties) and its dequantized score: scale * (q - zeroPoint). */
    fun decode(scores: ByteArray): Prediction {
        require(scores.size == labels.size) {
            "model gave ${scores.size} scores; expected ${labels.size}"
        }
        var best = 0
        for (i in 1 until scores.size) if (scores[i] > scores[best]) best = i
        val confidence = outputScale * (scores[best] - outputZeroPoint).toFloat()
        return Prediction(best, labels[best], confidence)
    }

    override fun close() = interpreter.close()

    private fun checkTensor(role: String, tensor: Tensor, spec: TensorSpec): Tensor.QuantizationParams {
        val shape = tensor.shape().toList()
        if (tensor.dataType() != DataType.INT8 || shape != spec.shape) {
            throw ContractException(
                "model $role must be INT8 ${spec.shape} as ${Contract.FILE_NAME} says. " +
                    "Received: ${tensor.dataType()} $shape"
            )
        }
        val params = tensor.quantizationParams()
        if (params.scale != spec.scale || params.zeroPoint != spec.zeroPoint) {
            throw ContractException(
                "model $role has scale ${params.scale}, zero point ${params.zeroPoint}; " +
                    "${Contract.FILE_NAME} says ${spec.scale}, ${spec.zeroPoint}"
            )
        }
        return params
    }

    companion object {
        /** Checks the model bytes against contract.json's size and sha256 (the buffer is not moved). */
        fun verifyModel(model: ByteBuffer, contract: Contract) {
            val bytes = model.duplicate()
            bytes.rewind()
            if (bytes.remaining().toLong() != contract.modelBytes) {
                throw ContractException(
                    "${contract.modelFile} has ${bytes.remaining()} bytes; " +
                        "${Contract.FILE_NAME} says ${contract.modelBytes}"
                )
            }
            val digest = MessageDigest.getInstance("SHA-256").apply { update(bytes) }.digest()
            val hex = digest.joinToString("") { "%02x".format(it.toInt() and 0xFF) }
            if (hex != contract.modelSha256) {
                throw ContractException(
                    "${contract.modelFile} has sha256 $hex; ${Contract.FILE_NAME} says " +
                        contract.modelSha256
                )
            }
        }

        /** Verifies [model] (a direct or memory-mapped buffer) and opens it with LiteRT. */
        fun create(model: ByteBuffer, contract: Contract, labels: List<String>): Classifier {
            verifyModel(model, contract)
            val options = Interpreter.Options().setNumThreads(2)
            return Classifier(Interpreter(model, options), contract, labels)
        }
    }
}
