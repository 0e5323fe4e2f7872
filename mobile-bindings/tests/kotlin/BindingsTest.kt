// The shared assessment vectors, and the rest of the exported surface, through
// the generated Kotlin bindings on the JVM, as an Android unit test runs them.
// mobile-bindings/test.sh compiles and runs it; it exits 1 on any failure.

import com.google.gson.JsonArray
import com.google.gson.JsonElement
import com.google.gson.JsonNull
import com.google.gson.JsonObject
import com.google.gson.JsonParser
import java.io.File
import java.time.OffsetDateTime
import org.whereabouts.core.*

var failures = 0
var checks = 0

fun check(what: String, ok: Boolean, detail: () -> String = { "" }) {
    checks++
    if (!ok) {
        failures++
        System.err.println("FAIL $what ${detail()}")
    }
}

inline fun <reified E : Throwable> throws(what: String, block: () -> Unit): E? {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) {
            checks++
            return e
        }
        check(what, false) { "threw ${e::class.simpleName}: ${e.message}" }
        return null
    }
    check(what, false) { "did not throw" }
    return null
}

/** The snapshot a server would hand this filer: the vector's input without the draft, time and language. */
fun snapshotJson(input: JsonObject): String {
    val doc = JsonObject()
    doc.addProperty("schema_version", 1)
    doc.add("settings", input.get("settings") ?: JsonParser.parseString("""{"home_code": "110000", "time_zone": "Asia/Shanghai"}"""))
    doc.add("profile", input.get("profile"))
    doc.add("org", input.get("org") ?: JsonParser.parseString("""{"units": [], "accounts": [], "role_grants": []}"""))
    doc.add("policy", input.get("policy") ?: JsonNull.INSTANCE)
    doc.add("special_periods", input.get("special_periods") ?: JsonArray())
    doc.add("calendar", input.get("calendar") ?: JsonParser.parseString("""{"years": []}"""))
    doc.addProperty("generated_at", "2026-01-01T00:00:00Z")
    return doc.toString()
}

/** Messages dropped, issues in any order, timestamps as instants (tests/vectors/README.md). */
fun normalise(value: JsonObject): JsonObject {
    val out = value.deepCopy()
    for (key in listOf("errors", "warnings")) {
        val items = (out.getAsJsonArray(key) ?: JsonArray()).map { item ->
            val copy = item.asJsonObject.deepCopy()
            copy.remove("message")
            canonical(copy)
        }.sorted()
        val sorted = JsonArray()
        items.forEach { sorted.add(JsonParser.parseString(it)) }
        out.add(key, sorted)
    }
    for (key in listOf("submit_by", "return_report_due")) {
        val v = out.get(key)
        if (v != null && !v.isJsonNull) out.addProperty(key, OffsetDateTime.parse(v.asString).toInstant().toString())
    }
    return JsonParser.parseString(canonical(out)).asJsonObject
}

/** JSON with object keys sorted, so equal values print equal. */
fun canonical(e: JsonElement): String = when {
    e.isJsonObject -> e.asJsonObject.entrySet().sortedBy { it.key }
        .joinToString(",", "{", "}") { "\"${it.key}\":${canonical(it.value)}" }
    e.isJsonArray -> e.asJsonArray.joinToString(",", "[", "]") { canonical(it) }
    else -> e.toString()
}

fun langOf(input: JsonObject): Lang =
    if (input.get("lang")?.asString == "en") Lang.EN else Lang.ZH_CN

fun vectors(root: File): List<File> =
    File(root, "tests/vectors").listFiles { f -> f.name.endsWith(".json") }!!.sortedBy { it.name }

fun runVectors(root: File) {
    val files = vectors(root)
    check("at least 88 vectors", files.size >= 88) { "found ${files.size}" }
    runCases(files)
    println("vectors: ${files.size} run through the Kotlin bindings")
    // Cases a real server answered (tests/e2e/parity.rs with WHEREABOUTS_PARITY_OUT).
    val parityDir = System.getenv("PARITY_DIR")
    if (parityDir != null) {
        val parity = File(parityDir).listFiles { f -> f.name.endsWith(".json") }!!.sortedBy { it.name }
        check("parity cases exist", parity.isNotEmpty())
        runCases(parity)
        println("parity: ${parity.size} cases a real server answered, run through the Kotlin bindings")
    }
}

fun runCases(files: List<File>) {
    for (file in files) {
        val vector = JsonParser.parseString(file.readText()).asJsonObject
        val input = vector.getAsJsonObject("input")
        val expected = vector.getAsJsonObject("expected")
        PolicySnapshot.fromJson(snapshotJson(input)).use { snapshot ->
            val draft = draftFromJson(input.get("draft").toString())
            val now = input.get("now").asString
            val result = snapshot.assess(draft, now, langOf(input))
            val actual = JsonParser.parseString(assessmentToJson(result)).asJsonObject
            check(file.name, canonical(normalise(actual)) == canonical(normalise(expected))) {
                "\n  expected ${canonical(normalise(expected))}\n  actual   ${canonical(normalise(actual))}"
            }
            // The typed record agrees with its JSON.
            check("${file.name} valid", result.valid == expected.get("valid").asBoolean)
            check("${file.name} codes", result.errors.map { it.code.name.lowercase() } ==
                actual.getAsJsonArray("errors").map { it.asJsonObject.get("code").asString })
            check("${file.name} validate", snapshot.validate(draft, now, langOf(input)) == result.errors)
            for (issue in result.errors + result.warnings) {
                check("${file.name} message", issue.message.isNotEmpty())
                check("${file.name} params", JsonParser.parseString(issue.params).isJsonObject)
            }
        }
    }
}

fun runErrors(root: File) {
    val base = JsonParser.parseString(vectors(root).first().readText()).asJsonObject.getAsJsonObject("input")
    for (doc in listOf("", "not json", "{}", """{"schema_version": 1}""", """{"schema_version": "1"}""")) {
        val e = throws<MobileException.InvalidSnapshot>("malformed snapshot '$doc'") { PolicySnapshot.fromJson(doc) }
        check("reason of '$doc'", e?.reason?.isNotEmpty() == true)
    }
    val secret = JsonParser.parseString(snapshotJson(base)).asJsonObject
    secret.getAsJsonObject("profile").addProperty("rank", "Zhang San 13800138000")
    val leak = throws<MobileException.InvalidSnapshot>("bad rank") { PolicySnapshot.fromJson(secret.toString()) }
    check("no personal data in the error", leak != null && !leak.reason.contains("Zhang") && !leak.reason.contains("13800138000"))

    val newer = JsonParser.parseString(snapshotJson(base)).asJsonObject
    newer.addProperty("schema_version", 2)
    val v = throws<MobileException.UnsupportedSnapshotVersion>("schema version 2") { PolicySnapshot.fromJson(newer.toString()) }
    check("found and supported", v?.found == 2u && v.supported == 1u)

    PolicySnapshot.fromJson(snapshotJson(base)).use { snapshot ->
        check("schema version", snapshot.schemaVersion() == 1u)
        for (now in listOf("yesterday", "2026-04-27", "2026-04-27T09:00:00")) {
            val e = throws<MobileException.InvalidInput>("now '$now'") { snapshot.assess(draftFromJson("{}"), now, Lang.EN) }
            check("field of now '$now'", e?.field == "timestamp")
        }
        val bad = draftFromJson("{}").copy(departOn = "27/04/2026")
        val e = throws<MobileException.InvalidInput>("bad date") { snapshot.assess(bad, "2026-04-27T09:00:00+08:00", Lang.EN) }
        check("field of a bad date", e?.field == "date")

        val empty = snapshot.assess(draftFromJson("{}"), "2026-04-27T09:00:00+08:00", Lang.EN)
        check("an empty draft is data, not an exception", !empty.valid && empty.errors.any { it.code == IssueCode.REQUIRED })
    }
    for (doc in listOf("[", """{"kind": "space_travel"}""", """{"depart_on": 7}""")) {
        val e = throws<MobileException.InvalidInput>("draft '$doc'") { draftFromJson(doc) }
        check("field of draft '$doc'", e?.field == "draft")
    }
    println("errors: the curated exceptions, checked")
}

fun runSurface() {
    val draft = draftFromJson("""{"kind": "abroad_private", "purpose": "tourism", "destinations": [{"code": "JP"}], "depart_on": "2026-05-01", "return_on": "2026-05-05"}""")
    check("draft kind", draft.kind == TripKind.ABROAD_PRIVATE)
    check("draft date", draft.departOn == "2026-05-01")
    check("draft round trip", JsonParser.parseString(draftToJson(draft)).asJsonObject.get("destinations").toString() == """[{"code":"JP"}]""")

    check("pending: withdraw", filerActions(FilingView(FilingStatus.PENDING, 2u, false)) == listOf(Action.WITHDRAW))
    check("approved: cancel, depart", filerActions(FilingView(FilingStatus.APPROVED, 2u, false)).toSet() == setOf(Action.CANCEL, Action.DEPART))
    check("returned: nothing", filerActions(FilingView(FilingStatus.RETURNED, 0u, false)).isEmpty())

    val shanghai = lookupDestination("310000")
    check("Shanghai", shanghai?.nameZh == "上海市" && shanghai.nameEn == "Shanghai" && shanghai.kind == DestinationKind.PROVINCE)
    check("unknown code", lookupDestination("999999") == null)
    check("Japan by English name", searchDestinations("Japan", 5u).any { it.code == "JP" })
    check("Japan by Chinese name", searchDestinations("日本", 5u).any { it.code == "JP" })
    check("limit", searchDestinations("a", 3u).size <= 3)

    val data = referenceData()
    check("reference data", data.snapshotSchemaVersion == 1u && data.holidaysVersion.isNotEmpty() && 2026 in data.holidayYears)
    println("surface: drafts, transitions, destinations and reference data, checked")
}

fun main(args: Array<String>) {
    val root = File(args.getOrElse(0) { "." }).absoluteFile
    runVectors(root)
    runErrors(root)
    runSurface()
    println("$checks checks, $failures failed")
    if (failures > 0) kotlin.system.exitProcess(1)
}
