// Time of one assessment through the Kotlin bindings (mobile-bindings/bench.sh).
import java.io.File
import org.whereabouts.core.*

fun main(args: Array<String>) {
    val snapshotJson = File(args[0]).readText()
    val draft = draftFromJson(File(args[1]).readText())
    val now = args[2]
    PolicySnapshot.fromJson(snapshotJson).use { snapshot ->
        repeat(20_000) { snapshot.assess(draft, now, Lang.ZH_CN) }
        val n = 100_000
        val start = System.nanoTime()
        repeat(n) { snapshot.assess(draft, now, Lang.ZH_CN) }
        val perCall = (System.nanoTime() - start) / 1000.0 / n
        val parseStart = System.nanoTime()
        repeat(10_000) { PolicySnapshot.fromJson(snapshotJson).close() }
        val parse = (System.nanoTime() - parseStart) / 1000.0 / 10_000
        println("kotlin: assess %.2f µs per call, fromJson %.2f µs".format(perCall, parse))
    }
}
