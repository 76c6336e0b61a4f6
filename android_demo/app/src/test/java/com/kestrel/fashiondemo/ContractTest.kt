package com.kestrel.fashiondemo

import java.io.File
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

class ContractTest {
    private val text: String get() = File(Bundled.assets, Contract.FILE_NAME).readText()

    @Test
    fun bundledContractDescribesTheGoldenModel() {
        val contract = Bundled.contract
        assertEquals(Bundled.input, contract.input)
        assertEquals(Bundled.output, contract.output)
        assertEquals(listOf(1, contract.height, contract.width, 1), contract.input.shape)
        assertEquals(255f, contract.divisor, 0f)
        assertEquals(Bundled.samples.map { Sample(it.file, it.label) }, contract.samples)
        for (sample in contract.samples) {
            assertTrue(sample.file, File(Bundled.assets, sample.file).isFile)
        }
    }

    @Test
    fun readsTheOnnxEntryAndItsFreeBatchDimension() {
        val onnx = Bundled.contract.onnx!!
        assertEquals(null, onnx.input.shape[0])
        val contract = Bundled.contract
        assertEquals(listOf(contract.height, contract.width, 1), onnx.input.shape.drop(1))
        assertEquals("float32", onnx.output.dtype)
        assertEquals(64, onnx.model.sha256.length)
    }

    @Test
    fun aContractWithoutOnnxHasNoOnnxEntry() {
        val start = text.indexOf("\"onnx\": {")
        val end = text.indexOf("\n  }", start) + "\n  }".length
        assertTrue(start > 0 && end > start)
        // Drop the entry and the comma before it: the .tflite entry stays the only model.
        val comma = text.lastIndexOf(",", start)
        val changed = text.substring(0, comma) + text.substring(end)
        assertEquals(null, Contract.parse(changed).onnx)
        assertEquals(Bundled.contract.modelSha256, Contract.parse(changed).modelSha256)
    }

    @Test
    fun namesABadOnnxDimension() {
        val firstNull = Regex("(\"onnx\": \\{.*?\"shape\": \\[)null", RegexOption.DOT_MATCHES_ALL)
        val changed = text.replaceFirst(firstNull, "$1\"x\"")
        assertTrue(changed != text)
        val error = assertThrows(ContractException::class.java) { Contract.parse(changed) }
        assertTrue(error.message!!, error.message!!.contains("contract.json.models.onnx.input.shape"))
    }

    @Test
    fun labelsFileHasOneNamePerClass() {
        assertEquals(Bundled.contract.numClasses, Bundled.labels.size)
        assertEquals(Bundled.labels.size, Bundled.labels.toSet().size)
    }

    @Test
    fun rejectsAnotherContractVersion() {
        val changed = text.replace("\"contract_version\": 1", "\"contract_version\": 2")
        assertTrue(changed != text)
        val error = assertThrows(ContractException::class.java) { Contract.parse(changed) }
        assertTrue(error.message!!, error.message!!.contains("version 2"))
    }

    @Test
    fun namesTheMissingKey() {
        val changed = text.replace("\"labels_file\"", "\"labels_name\"")
        val error = assertThrows(ContractException::class.java) { Contract.parse(changed) }
        assertTrue(error.message!!, error.message!!.contains("contract.json.labels_file"))
    }

    @Test
    fun labelsRejectAWrongCount() {
        assertThrows(ContractException::class.java) { parseLabels("a\nb\n", 3) }
        assertThrows(ContractException::class.java) { parseLabels("a\n\nc\n", 3) }
        assertEquals(listOf("T-shirt/top", "Bag"), parseLabels("T-shirt/top\r\nBag\n", 2))
    }

    @Test
    fun jsonReadsEscapesNumbersAndNesting() {
        val value = Json.parse("""{"a": [1, -2.5e1, true, null], "b": "x\"\u00e9\n/"}""")
        assertEquals(
            mapOf("a" to listOf(1.0, -25.0, true, null), "b" to "x\"\u00e9\n/"),
            value,
        )
        assertThrows(ContractException::class.java) { Json.parse("""{"a": 1,}""") }
        assertThrows(ContractException::class.java) { Json.parse("""[1] 2""") }
        assertThrows(ContractException::class.java) { Json.parse("""{"a": "unterminated""") }
    }
}
