package com.kestrel.fashiondemo

import com.google.ai.edge.litert.TensorType
import java.io.File
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

class ClassifierTest {
    private fun classifier(model: Int8Model) = Classifier(model, Bundled.contract, Bundled.labels)

    @Test
    fun feedsTheGoldenBytesAndDecodesTheModelsClass() {
        val model = GoldenModel()
        val classifier = classifier(model)
        for (sample in Bundled.samples) {
            val prediction = classifier.classify(sample.pixels)
            assertArrayEquals(sample.file, sample.inputInt8, model.received.last())
            assertEquals(sample.file, sample.argmax, prediction.classIndex)
            assertEquals(sample.file, Bundled.labels[sample.argmax], prediction.label)
            assertEquals(sample.file, sample.confidence, prediction.confidence, 0f)
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
    fun refusesAFloatModelWithAMessageNamingBothTypes() {
        val float = tensorType(Bundled.input.shape, TensorType.ElementType.FLOAT)
        val error = assertThrows(ContractException::class.java) {
            classifier(GoldenModel(input = float))
        }
        assertTrue(error.message!!, error.message!!.contains("must be INT8 [1, 28, 28, 1]"))
        assertTrue(error.message!!, error.message!!.contains("Received: FLOAT"))
    }

    @Test
    fun refusesAModelWhoseShapesDisagreeWithTheContract() {
        assertThrows(ContractException::class.java) {
            classifier(GoldenModel(input = tensorType(listOf(1, 32, 32, 1))))
        }
        val error = assertThrows(ContractException::class.java) {
            classifier(GoldenModel(output = tensorType(listOf(1, 9))))
        }
        assertTrue(error.message!!, error.message!!.contains("output"))
    }

    @Test
    fun refusesAWrongImageSize() {
        val classifier = classifier(GoldenModel())
        assertThrows(IllegalArgumentException::class.java) { classifier.classify(IntArray(10)) }
    }

    @Test
    fun refusesAModelFileWhoseHashOrSizeDisagreesWithTheContract() {
        val file = Bundled.contract.tfliteFile
        val bytes = File(Bundled.assets, file.file).readBytes()
        file.verify(bytes)
        bytes[100] = (bytes[100] + 1).toByte()
        val error = assertThrows(ContractException::class.java) { file.verify(bytes) }
        assertTrue(error.message!!, error.message!!.contains("sha256"))
        val short = assertThrows(ContractException::class.java) { file.verify(bytes.copyOf(10)) }
        assertTrue(short.message!!, short.message!!.contains("has 10 bytes"))
    }
}
