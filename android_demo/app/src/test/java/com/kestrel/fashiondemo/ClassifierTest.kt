package com.kestrel.fashiondemo

import java.io.File
import java.nio.ByteBuffer
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test
import org.tensorflow.lite.DataType

class ClassifierTest {
    private fun classifier(model: GoldenModel) =
        Classifier(model.interpreter, Bundled.contract, Bundled.labels)

    @Test
    fun feedsTheGoldenBytesAndDecodesTheModelsClass() {
        val model = GoldenModel()
        val classifier = classifier(model)
        for (sample in Bundled.samples) {
            val prediction = classifier.classify(sample.pixels)
            assertArrayEquals(sample.file, sample.inputInt8, model.received.last())
            assertEquals(sample.file, sample.argmax, prediction.classIndex)
            assertEquals(sample.file, Bundled.labels[sample.argmax], prediction.label)
            assertEquals(sample.file, sample.confidence, prediction.confidence, 1e-6f)
        }
        assertEquals(Bundled.samples.size, model.received.size)
        classifier.close()
        assertTrue(model.closed)
    }

    @Test
    fun drawingOnWhiteGivesTheSameInputAsTheSample() {
        val model = GoldenModel()
        val classifier = classifier(model)
        for (sample in Bundled.samples) {
            val drawn = IntArray(sample.pixels.size) { 255 - sample.pixels[it] }
            val prediction = classifier.classify(drawn, Polarity.DARK_ON_LIGHT)
            assertArrayEquals(sample.file, sample.inputInt8, model.received.last())
            assertEquals(sample.argmax, prediction.classIndex)
        }
    }

    @Test
    fun decodePicksTheFirstMaximumAndDequantizes() {
        val classifier = classifier(GoldenModel())
        val scores = ByteArray(Bundled.labels.size) { -100 }
        scores[3] = 50
        scores[7] = 50
        val prediction = classifier.decode(scores)
        assertEquals(3, prediction.classIndex)
        val expected = Bundled.output.scale * (50 - Bundled.output.zeroPoint).toFloat()
        assertEquals(expected, prediction.confidence, 0f)
    }

    @Test
    fun rejectsAModelWhoseQuantizationDisagreesWithTheContract() {
        val shifted = Bundled.input.copy(zeroPoint = Bundled.input.zeroPoint + 1)
        val error = assertThrows(ContractException::class.java) {
            classifier(GoldenModel(input = fakeTensor(shifted)))
        }
        assertTrue(error.message!!, error.message!!.contains("zero point"))
    }

    @Test
    fun rejectsAFloatModel() {
        assertThrows(ContractException::class.java) {
            classifier(GoldenModel(input = fakeTensor(Bundled.input, DataType.FLOAT32)))
        }
    }

    @Test
    fun rejectsAWrongImageSize() {
        val classifier = classifier(GoldenModel())
        assertThrows(IllegalArgumentException::class.java) { classifier.classify(IntArray(10)) }
    }

    @Test
    fun verifiesTheBundledModelAgainstTheContract() {
        val bytes = File(Bundled.assets, Bundled.contract.modelFile).readBytes()
        val model = ByteBuffer.allocateDirect(bytes.size).put(bytes)
        model.rewind()
        Classifier.verifyModel(model, Bundled.contract)
        assertEquals("verifyModel must not move the buffer", 0, model.position())
        model.put(100, (model.get(100) + 1).toByte())
        assertThrows(ContractException::class.java) {
            Classifier.verifyModel(model, Bundled.contract)
        }
    }
}
