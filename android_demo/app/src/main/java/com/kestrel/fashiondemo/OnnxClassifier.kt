package com.kestrel.fashiondemo

import ai.onnxruntime.OnnxJavaType

/** An ONNX input or output as ONNX Runtime reports it (TensorInfo.type, TensorInfo.getShape()). */
class OnnxTensorInfo(val type: OnnxJavaType, val shape: LongArray)

/**
 * The .onnx as the classifier sees it: the tensor info of its one input and one output, and one
 * run from float32 input to float32 output. OrtModel implements it with ONNX Runtime's
 * OrtSession; the JUnit tests with the golden data.
 */
interface FloatModel : AutoCloseable {
    fun inputInfo(name: String): OnnxTensorInfo

    fun outputInfo(name: String): OnnxTensorInfo

    fun run(inputName: String, input: FloatArray, shape: LongArray): FloatArray
}

/**
 * Classifies with the bundled .onnx (a QDQ model: float32 input x / 255, float32 scores).
 *
 * The model's input and output names, element types and shapes must be what contract.json
 * says (a dimension without a fixed size is -1 in ONNX Runtime and null in the contract).
 */
class OnnxClassifier(
    private val model: FloatModel,
    private val contract: Contract,
    private val labels: List<String>,
) : AutoCloseable {
    private val spec: OnnxSpec = contract.onnx
        ?: throw ContractException("${Contract.FILE_NAME} has no models.onnx entry")

    /** The shape fed to the model: the contract's, batch (or any free dimension) 1. */
    val inputShape: LongArray = spec.input.shape.map { (it ?: 1).toLong() }.toLongArray()

    init {
        checkLabels(labels, contract)
        checkTensor("input", model.inputInfo(spec.input.name), spec.input)
        checkTensor("output", model.outputInfo(spec.output.name), spec.output)
        val pixels = inputShape.fold(1L) { n, d -> n * d }
        if (pixels != (contract.height * contract.width).toLong()) {
            throw ContractException(
                "${spec.model.file} input ${spec.input.shape} does not hold one " +
                    "${contract.height} x ${contract.width} image"
            )
        }
    }

    /** A height x width 0..255 gray image (in [polarity]) as the model's float32 input. */
    fun inputFloats(gray: IntArray, polarity: Polarity = contract.polarity): FloatArray {
        checkImageSize(gray, contract)
        val pixels = Preprocess.toPolarity(gray, polarity, contract.polarity)
        return Preprocess.normalize(pixels, contract.divisor)
    }

    fun classify(gray: IntArray, polarity: Polarity = contract.polarity): Prediction =
        decode(model.run(spec.input.name, inputFloats(gray, polarity), inputShape))

    /** Argmax (first maximum on ties) and its score, as the model gives it. */
    fun decode(scores: FloatArray): Prediction {
        require(scores.size == labels.size) {
            "model gave ${scores.size} scores; expected ${labels.size}"
        }
        var best = 0
        for (i in 1 until scores.size) if (scores[i] > scores[best]) best = i
        return Prediction(best, labels[best], scores[best])
    }

    override fun close() = model.close()

    private fun checkTensor(role: String, info: OnnxTensorInfo, spec: OnnxTensorSpec) {
        val shape = info.shape.map { if (it < 0) null else it.toInt() }
        if (info.type != OnnxJavaType.FLOAT || spec.dtype != "float32" || shape != spec.shape) {
            throw ContractException(
                "${this.spec.model.file} $role must be FLOAT ${spec.shape} as " +
                    "${Contract.FILE_NAME} says. Received: ${info.type} $shape"
            )
        }
    }
}
