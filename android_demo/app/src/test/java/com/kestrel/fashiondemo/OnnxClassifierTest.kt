package com.kestrel.fashiondemo

import ai.onnxruntime.OnnxJavaType
import java.io.File
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

class OnnxClassifierTest {
    private fun classifier(model: FloatModel = GoldenOnnxModel()) =
        OnnxClassifier(model, Bundled.contract, Bundled.labels)

    @Test
    fun normalizesEveryPixelValueBitForBitAsPython() {
        val all = Preprocess.normalize(IntArray(256) { it }, Bundled.contract.divisor)
        assertEquals(256, Bundled.pixelFloat32.size)
        for (p in 0..255) {
            assertEquals("pixel $p", Bundled.pixelFloat32[p].toRawBits(), all[p].toRawBits())
        }
    }

    @Test
    fun feedsTheGoldenFloatsAndDecodesOurRuntimesOutput() {
        val model = GoldenOnnxModel()
        val classifier = classifier(model)
        for (sample in Bundled.samples) {
            val prediction = classifier.classify(sample.pixels)
            assertEquals(listOf(1L, 28L, 28L, 1L), model.received.last().second)
            assertEquals(sample.file, sample.onnxArgmax, prediction.classIndex)
            assertEquals(sample.file, sample.onnxScore, prediction.confidence, 0f)
            assertEquals(Bundled.labels[sample.onnxArgmax], prediction.label)
        }
        classifier.close()
        assertTrue(model.closed)
    }

    @Test
    fun drawingOnWhiteGivesTheSameFloatsAsTheSample() {
        val model = GoldenOnnxModel()
        val classifier = classifier(model)
        for (sample in Bundled.samples) {
            val drawn = IntArray(sample.pixels.size) { 255 - sample.pixels[it] }
            classifier.classify(drawn, Polarity.DARK_ON_LIGHT)
            val expected =
                FloatArray(sample.pixels.size) { Bundled.pixelFloat32[sample.pixels[it]] }
            assertArrayEquals(sample.file, expected, model.received.last().first, 0f)
        }
    }

    @Test
    fun decodePicksTheFirstMaximum() {
        val scores = FloatArray(10) { 0.01f }
        scores[2] = 0.4f
        scores[5] = 0.4f
        assertEquals(Prediction(2, Bundled.labels[2], 0.4f), classifier().decode(scores))
    }

    @Test
    fun refusesAModelWhoseTypeDisagreesWithTheContract() {
        val int8 = mapOf(Bundled.onnxInput.tensorInfo(OnnxJavaType.INT8))
        val error = assertThrows(ContractException::class.java) {
            classifier(GoldenOnnxModel(inputs = int8))
        }
        assertTrue(error.message!!, error.message!!.contains("input must be FLOAT"))
        assertTrue(error.message!!, error.message!!.contains("Received: INT8"))
    }

    @Test
    fun refusesAModelWhoseShapeOrNamesDisagreeWithTheContract() {
        val fixed = mapOf(Bundled.onnxOutput.tensorInfo(shape = listOf(1, 10)))
        val error = assertThrows(ContractException::class.java) {
            classifier(GoldenOnnxModel(outputs = fixed))
        }
        assertTrue(error.message!!, error.message!!.contains("Received: FLOAT [1, 10]"))
        val wide = mapOf(Bundled.onnxInput.tensorInfo(shape = listOf(null, 32, 32, 1)))
        assertThrows(ContractException::class.java) { classifier(GoldenOnnxModel(inputs = wide)) }
    }

    @Test
    fun contractAndGoldenDescribeTheSameOnnxTensors() {
        val spec = Bundled.contract.onnx!!
        assertEquals(Bundled.onnxInput, spec.input)
        assertEquals(Bundled.onnxOutput, spec.output)
        assertEquals("float32", spec.input.dtype)
    }

    @Test
    fun refusesAModelFileWhoseHashDisagreesWithTheContract() {
        val spec = Bundled.contract.onnx!!
        val bytes = File(Bundled.assets, spec.model.file).readBytes()
        spec.model.verify(bytes)
        bytes[bytes.size - 1] = (bytes[bytes.size - 1] + 1).toByte()
        val error = assertThrows(ContractException::class.java) { spec.model.verify(bytes) }
        assertTrue(error.message!!, error.message!!.contains(spec.model.file))
    }

    @Test
    fun aContractWithoutOnnxGivesAClearError() {
        val withoutOnnx = Bundled.contract.copy(onnx = null)
        val error = assertThrows(ContractException::class.java) {
            OnnxClassifier(GoldenOnnxModel(), withoutOnnx, Bundled.labels)
        }
        assertTrue(error.message!!, error.message!!.contains("no models.onnx"))
    }
}
