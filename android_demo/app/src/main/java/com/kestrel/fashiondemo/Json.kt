package com.kestrel.fashiondemo

/**
 * A small JSON reader for the app's own files (contract.json, the tests' golden.json).
 *
 * It returns plain Kotlin values: Map<String, Any?> for objects (in file order), List<Any?> for
 * arrays, String, Double, Boolean and null. Android has org.json, but plain JVM unit tests do
 * not, and the app's logic must run in both.
 */
object Json {
    fun parse(text: String): Any? {
        val reader = Reader(text)
        val value = reader.value()
        reader.skipSpace()
        if (reader.pos != text.length) reader.fail("trailing characters")
        return value
    }

    private class Reader(val text: String) {
        var pos = 0

        fun fail(what: String): Nothing =
            throw ContractException("Invalid JSON at offset $pos: $what")

        fun skipSpace() {
            while (pos < text.length && text[pos] in " \t\r\n") pos++
        }

        fun value(): Any? {
            skipSpace()
            if (pos >= text.length) fail("unexpected end of text")
            return when (text[pos]) {
                '{' -> obj()
                '[' -> array()
                '"' -> string()
                't' -> literal("true", true)
                'f' -> literal("false", false)
                'n' -> literal("null", null)
                else -> number()
            }
        }

        fun literal(word: String, result: Any?): Any? {
            if (!text.startsWith(word, pos)) fail("expected $word")
            pos += word.length
            return result
        }

        fun obj(): Map<String, Any?> {
            val result = LinkedHashMap<String, Any?>()
            pos++
            skipSpace()
            if (pos < text.length && text[pos] == '}') { pos++; return result }
            while (true) {
                skipSpace()
                if (pos >= text.length || text[pos] != '"') fail("expected a key string")
                val key = string()
                skipSpace()
                if (pos >= text.length || text[pos] != ':') fail("expected ':'")
                pos++
                result[key] = value()
                skipSpace()
                when (text.getOrNull(pos++)) {
                    ',' -> continue
                    '}' -> return result
                    else -> { pos--; fail("expected ',' or '}'") }
                }
            }
        }

        fun array(): List<Any?> {
            val result = ArrayList<Any?>()
            pos++
            skipSpace()
            if (pos < text.length && text[pos] == ']') { pos++; return result }
            while (true) {
                result.add(value())
                skipSpace()
                when (text.getOrNull(pos++)) {
                    ',' -> continue
                    ']' -> return result
                    else -> { pos--; fail("expected ',' or ']'") }
                }
            }
        }

        fun string(): String {
            val out = StringBuilder()
            pos++
            while (true) {
                if (pos >= text.length) fail("unterminated string")
                val c = text[pos++]
                when {
                    c == '"' -> return out.toString()
                    c == '\\' -> out.append(escape())
                    c < ' ' -> { pos--; fail("control character in string") }
                    else -> out.append(c)
                }
            }
        }

        fun escape(): Char {
            val c = text.getOrNull(pos++) ?: fail("unterminated escape")
            return when (c) {
                '"', '\\', '/' -> c
                'b' -> '\b'
                'f' -> '\u000C'
                'n' -> '\n'
                'r' -> '\r'
                't' -> '\t'
                'u' -> {
                    if (pos + 4 > text.length) fail("short \\u escape")
                    val code = text.substring(pos, pos + 4).toIntOrNull(16) ?: fail("bad \\u escape")
                    pos += 4
                    code.toChar()
                }
                else -> { pos--; fail("unknown escape '\\$c'") }
            }
        }

        fun number(): Double {
            val start = pos
            while (pos < text.length && text[pos] in "+-0123456789.eE") pos++
            return text.substring(start, pos).toDoubleOrNull()
                ?: run { pos = start; fail("expected a value") }
        }
    }
}

/** Typed access to parsed JSON, with errors that name the key path and the value found. */
internal class JsonObject(private val map: Map<String, Any?>, private val path: String) {
    private fun raw(key: String): Any? =
        if (map.containsKey(key)) map[key] else throw ContractException("$path.$key is missing")

    private fun wrong(key: String, expected: String): Nothing =
        throw ContractException("$path.$key must be $expected. Received: ${map[key]}")

    fun string(key: String): String = raw(key) as? String ?: wrong(key, "a string")

    fun double(key: String): Double = raw(key) as? Double ?: wrong(key, "a number")

    fun int(key: String): Int {
        val value = double(key)
        if (value != Math.rint(value) || value !in -2.0e9..2.0e9) wrong(key, "an integer")
        return value.toInt()
    }

    fun obj(key: String): JsonObject {
        @Suppress("UNCHECKED_CAST")
        val value = raw(key) as? Map<String, Any?> ?: wrong(key, "an object")
        return JsonObject(value, "$path.$key")
    }

    fun list(key: String): List<Any?> = raw(key) as? List<Any?> ?: wrong(key, "an array")

    fun objects(key: String): List<JsonObject> = list(key).mapIndexed { i, item ->
        @Suppress("UNCHECKED_CAST")
        val value = item as? Map<String, Any?> ?: wrong(key, "an array of objects")
        JsonObject(value, "$path.$key[$i]")
    }

    fun has(key: String): Boolean = map.containsKey(key)

    fun doubles(key: String): List<Double> = list(key).map { item ->
        item as? Double ?: wrong(key, "an array of numbers")
    }

    /** Integers or null (an ONNX dimension without a fixed size). */
    fun dims(key: String): List<Int?> = list(key).map { item ->
        if (item == null) return@map null
        val value = item as? Double ?: wrong(key, "an array of integers or null")
        if (value != Math.rint(value)) wrong(key, "an array of integers or null")
        value.toInt()
    }

    fun ints(key: String): List<Int> = list(key).map { item ->
        val value = item as? Double ?: wrong(key, "an array of integers")
        if (value != Math.rint(value)) wrong(key, "an array of integers")
        value.toInt()
    }

    companion object {
        fun parse(text: String, name: String): JsonObject {
            @Suppress("UNCHECKED_CAST")
            val map = Json.parse(text) as? Map<String, Any?>
                ?: throw ContractException("$name must hold a JSON object")
            return JsonObject(map, name)
        }
    }
}
