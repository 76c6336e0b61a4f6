package com.kestrel.fashiondemo

import com.google.ai.edge.litert.Accelerator
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

class BackendsTest {
    private fun both() = Backends(
        Result.success(Classifier(GoldenModel(), Bundled.contract, Bundled.labels)),
        Result.success(OnnxClassifier(GoldenOnnxModel(), Bundled.contract, Bundled.labels)),
    )

    @Test
    fun int8ModelsRunOnTheCpuAndFloatModelsTryTheGpuFirst() {
        val all = setOf(Accelerator.CPU, Accelerator.GPU, Accelerator.NPU)
        assertEquals(listOf(Accelerator.CPU), acceleratorPlan("int8", all))
        assertEquals(listOf(Accelerator.GPU, Accelerator.CPU), acceleratorPlan("float32", all))
        assertEquals(listOf(Accelerator.CPU), acceleratorPlan("float32", setOf(Accelerator.CPU)))
        assertEquals(Bundled.contract.input.dtype, "int8")
    }

    @Test
    fun fallsBackToTheCpuWhenTheGpuRefusesTheModel() {
        val tried = mutableListOf<Accelerator>()
        val (value, used) = firstThatOpens(listOf(Accelerator.GPU, Accelerator.CPU)) {
            tried += it
            if (it == Accelerator.GPU) throw IllegalStateException("no GPU delegate") else "ok"
        }
        assertEquals("ok" to Accelerator.CPU, value to used)
        assertEquals(listOf(Accelerator.GPU, Accelerator.CPU), tried)
        val error = assertThrows(IllegalStateException::class.java) {
            firstThatOpens(listOf(Accelerator.CPU)) { throw IllegalStateException("broken") }
        }
        assertEquals("broken", error.message)
    }

    @Test
    fun bothBackendsAnswerEveryGoldenSampleAndCompare() {
        val backends = both()
        for (sample in Bundled.samples) {
            val report =
                backends.classify(sample.pixels, Polarity.LIGHT_ON_DARK, BackendChoice.BOTH)
            val litert = (report.litert as Outcome.Answer).prediction
            val onnx = (report.onnx as Outcome.Answer).prediction
            assertEquals(sample.argmax, litert.classIndex)
            assertEquals(sample.onnxArgmax, onnx.classIndex)
            // Whether the two exports agree is the models' business (tests/demos checks the
            // committed bundle's); the report must say what the two answers say.
            assertEquals(sample.argmax == sample.onnxArgmax, report.agree)
            val difference = Math.abs(sample.confidence - sample.onnxScore)
            assertEquals(difference, report.scoreDifference!!, 0f)
        }
    }

    @Test
    fun theSwitchRunsOnlyTheChosenBackend() {
        val backends = both()
        val pixels = Bundled.samples[0].pixels
        val litertOnly = backends.classify(pixels, Polarity.LIGHT_ON_DARK, BackendChoice.LITERT)
        assertTrue(litertOnly.litert is Outcome.Answer)
        assertNull(litertOnly.onnx)
        assertNull(litertOnly.agree)
        val onnxOnly = backends.classify(pixels, Polarity.LIGHT_ON_DARK, BackendChoice.ONNX_RUNTIME)
        assertNull(onnxOnly.litert)
        assertTrue(onnxOnly.onnx is Outcome.Answer)
        assertEquals(BackendChoice.ONNX_RUNTIME, BackendChoice.LITERT.next(onnxAvailable = true))
        assertEquals(BackendChoice.BOTH, BackendChoice.ONNX_RUNTIME.next(onnxAvailable = true))
        assertEquals(BackendChoice.LITERT, BackendChoice.BOTH.next(onnxAvailable = true))
        assertEquals(BackendChoice.LITERT, BackendChoice.LITERT.next(onnxAvailable = false))
    }

    @Test
    fun disagreementIsReported() {
        val a = Prediction(1, "a", 0.9f)
        val b = Prediction(2, "b", 0.6f)
        val report = Report(Outcome.Answer(a), Outcome.Answer(b))
        assertEquals(false, report.agree)
        assertEquals(0.3f, report.scoreDifference!!, 1e-6f)
    }

    @Test
    fun aRefusedModelDisablesOnlyItsBackendWithTheReasonOnScreen() {
        // The .onnx file disagrees with contract.json: ONNX Runtime is off, LiteRT still answers.
        val refused = runCatching<OnnxClassifier> {
            Bundled.contract.onnx!!.model.verify(ByteArray(3))
            error("unreachable")
        }
        val backends = Backends(
            Result.success(Classifier(GoldenModel(), Bundled.contract, Bundled.labels)),
            refused,
        )
        assertFalse(backends.onnxAvailable)
        val message = backends.loadErrors.getValue(Backends.ONNX_NAME)
        val file = Bundled.contract.onnx!!.model.file
        assertTrue(message, message.contains("$file has 3 bytes; contract.json says"))
        val report = backends.classify(
            Bundled.samples[0].pixels, Polarity.LIGHT_ON_DARK, BackendChoice.BOTH,
        )
        assertTrue(report.litert is Outcome.Answer)
        assertEquals(message, (report.onnx as Outcome.Unavailable).reason)
        assertNull(report.agree)
        assertEquals(setOf(Backends.ONNX_NAME), backends.loadErrors.keys)
    }
}
