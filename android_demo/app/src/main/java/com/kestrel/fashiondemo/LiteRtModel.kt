package com.kestrel.fashiondemo

import com.google.ai.edge.litert.Accelerator
import com.google.ai.edge.litert.CompiledModel
import com.google.ai.edge.litert.Environment
import com.google.ai.edge.litert.Model
import com.google.ai.edge.litert.TensorBuffer
import com.google.ai.edge.litert.TensorType

/**
 * The .tflite through LiteRT's CompiledModel API (LiteRT 2.x): input and output TensorBuffers
 * made once, int8 bytes written and read with writeInt8/readInt8.
 */
class LiteRtModel private constructor(
    private val model: Model,
    private val compiled: CompiledModel,
    private val contract: Contract,
    /** The accelerator the model was compiled for (CPU for the int8 model). */
    val accelerator: Accelerator,
) : Int8Model {
    private val inputs: List<TensorBuffer> = compiled.createInputBuffers()
    private val outputs: List<TensorBuffer> = compiled.createOutputBuffers()

    // Tensors are looked up by the names contract.json holds (the model's own, read back by the
    // exporter); null: the model's default signature.
    override fun inputType(): TensorType = model.getInputTensorType(contract.input.name, null)

    override fun outputType(): TensorType = model.getOutputTensorType(contract.output.name, null)

    override fun run(input: ByteArray): ByteArray {
        inputs[0].writeInt8(input)
        compiled.run(inputs, outputs)
        return outputs[0].readInt8()
    }

    override fun close() {
        inputs.forEach { it.close() }
        outputs.forEach { it.close() }
        compiled.close()
        model.close()
    }

    companion object {
        /**
         * Compiles [model] (already checked against contract.json: [ModelFile.verify]) for the
         * first accelerator of [acceleratorPlan] that accepts it: the CPU for an int8 model; the
         * GPU, falling back to the CPU, for a float one.
         */
        fun open(model: Model, contract: Contract, env: Environment): LiteRtModel {
            val plan = acceleratorPlan(contract.input.dtype, env.getAvailableAccelerators())
            val (compiled, accelerator) = firstThatOpens(plan) { accelerator ->
                CompiledModel.create(model, CompiledModel.Options(accelerator), env)
            }
            return LiteRtModel(model, compiled, contract, accelerator)
        }
    }
}
