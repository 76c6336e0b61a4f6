package com.kestrel.fashiondemo

import ai.onnxruntime.NodeInfo
import ai.onnxruntime.OnnxTensor
import ai.onnxruntime.OrtEnvironment
import ai.onnxruntime.OrtSession
import ai.onnxruntime.TensorInfo
import java.nio.FloatBuffer

/** The .onnx through ONNX Runtime Mobile's Java API (OrtEnvironment, OrtSession, OnnxTensor). */
class OrtModel private constructor(
    private val env: OrtEnvironment,
    private val session: OrtSession,
) : FloatModel {
    override fun inputInfo(name: String) = info(session.inputInfo, "input", name)

    override fun outputInfo(name: String) = info(session.outputInfo, "output", name)

    override fun run(inputName: String, input: FloatArray, shape: LongArray): FloatArray =
        OnnxTensor.createTensor(env, FloatBuffer.wrap(input), shape).use { tensor ->
            session.run(mapOf(inputName to tensor)).use { result ->
                val output = result.get(0) as? OnnxTensor
                    ?: throw ContractException("the ONNX model's output is not a tensor")
                val buffer = output.floatBuffer
                FloatArray(buffer.remaining()).also { buffer.get(it) }
            }
        }

    // The environment is process-wide and owned by ONNX Runtime: only the session is closed.
    override fun close() = session.close()

    private fun info(infos: Map<String, NodeInfo>, role: String, name: String): OnnxTensorInfo {
        val node = infos[name] ?: throw ContractException(
            "the ONNX model has no $role named \"$name\" as ${Contract.FILE_NAME} says. " +
                "Received: ${infos.keys}"
        )
        val tensor = node.info as? TensorInfo
            ?: throw ContractException("the ONNX model's $role \"$name\" is not a tensor")
        return OnnxTensorInfo(tensor.type, tensor.shape)
    }

    companion object {
        /** Opens [model] (already checked against contract.json: [ModelFile.verify]) on the CPU. */
        fun open(model: ByteArray): OrtModel {
            val env = OrtEnvironment.getEnvironment()
            val session = OrtSession.SessionOptions().use { options ->
                options.setIntraOpNumThreads(2)
                env.createSession(model, options)
            }
            return OrtModel(env, session)
        }
    }
}
