#!/usr/bin/env bash
# Headless Ardour 7 (ardour7-lua, Dummy backend) smoke test for a VST3 MIDI effect.
#
#   run.sh <plugin.vst3> <file.mid> [roll_seconds]
#
# Creates a throw-away HOME, installs the bundle as $HOME/.vst3/<name>.vst3, runs the
# Ardour VST3 scanner (headless Ardour only reads the scan cache), then drives
# ardour7-lua: new session with the Dummy backend, one MIDI track carrying
#     [MIDI file player (Lua DSP)] -> [note counter "in"] -> [VST3 plugin] -> [note counter "out"]
# rolls the transport for <roll_seconds> of session time (Dummy backend at 10x speed)
# and prints `notes_in N` / `notes_out N`.
#
# Exit status: 0 = plugin loaded and notes_out > 0
#              1 = plugin loaded but no note-on came out (or the run broke down)
#              2 = plugin could not be scanned / loaded / inserted
#              3 = usage / environment error
# Env: PLUGIN_NAME (default SinTra), KEEP_TMP=1 to keep the temp dir,
#      PLUGIN_PARAMS="MIDI thru=0;Capture bars=4" (set by parameter label before rolling),
#      DUMMY_SPEED (default "10x Speed"; e.g. "Normal Speed"), VERBOSE=1 for full Ardour log.
set -u

BUNDLE=${1:-}
MIDI=${2:-}
ROLL_SECONDS=${3:-20}
PLUGIN_NAME=${PLUGIN_NAME:-SinTra}
DUMMY_SPEED=${DUMMY_SPEED:-10x Speed}

if [[ -z "$BUNDLE" || -z "$MIDI" ]]; then
  echo "usage: $0 <plugin.vst3> <file.mid> [roll_seconds]" >&2; exit 3
fi
[[ -d "$BUNDLE" ]] || { echo "ERROR: VST3 bundle directory not found: $BUNDLE" >&2; exit 3; }
[[ -f "$MIDI" ]]   || { echo "ERROR: MIDI file not found: $MIDI" >&2; exit 3; }
command -v ardour7-lua >/dev/null || { echo "ERROR: ardour7-lua not installed (apt-get install ardour)" >&2; exit 3; }

ARDOUR_LIB=/usr/lib/ardour7
export LD_LIBRARY_PATH=$ARDOUR_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

TMP=$(mktemp -d /tmp/ardour-vst3-test.XXXXXX)
cleanup() { [[ "${KEEP_TMP:-0}" == 1 ]] && echo "kept $TMP" >&2 || rm -rf "$TMP"; }
trap cleanup EXIT

# (1) fresh HOME (Ardour caches plugin scans per user) + bundle copy
export HOME=$TMP/home
export XDG_CONFIG_HOME=$HOME/.config XDG_CACHE_HOME=$HOME/.cache XDG_DATA_HOME=$HOME/.local/share
mkdir -p "$HOME/.vst3" "$HOME/.config/ardour7/scripts"
BNAME=$(basename "$BUNDLE")
cp -r "$BUNDLE" "$HOME/.vst3/$BNAME"
# Ardour treats a scan-cache file as stale unless it is strictly newer (1 s resolution) than the
# plugin module; a fresh copy + immediate scan lands in the same second -> plugin silently missing.
find "$HOME/.vst3/$BNAME" -exec touch -h -d "@$(( $(date +%s) - 120 ))" {} +

# ardour7-lua (headless) only *reads* the VST3 scan cache (PluginManager::refresh(cache_only=true)),
# so run the out-of-process scanner first; without this new_plugin() returns nil.
if ! "$ARDOUR_LIB/ardour-vst3-scanner" -f "$HOME/.vst3/$BNAME" >"$TMP/scan.log" 2>&1; then
  cat "$TMP/scan.log" >&2
  echo "PLUGIN_LOAD_FAILED: ardour-vst3-scanner failed for $BNAME"; exit 2
fi
if ! ls "$HOME/.cache/ardour7/vst/"*.v3i >/dev/null 2>&1; then
  cat "$TMP/scan.log" >&2
  echo "PLUGIN_LOAD_FAILED: no VST3 cache written for $BNAME"; exit 2
fi

# ---------------------------------------------------------------- Lua DSP: note counter
# Pass-through for everything; counts MIDI note-ons (velocity > 0), note-offs (0x80, or 0x90
# with velocity 0) and all events, and keeps the keys of the first 64 note-ons, in shared
# memory, which the session script reads via proc:to_insert():plugin(0):to_luaproc():shmem().
cat > "$HOME/.config/ardour7/scripts/zz_test_note_counter.lua" <<'EOF'
ardour { ["type"] = "dsp", name = "ZZ Test Note Counter", category = "Utility",
         license = "MIT", author = "test", description = [[counts note events]] }

function dsp_ioconfig ()
	return { { midi_in = 1, midi_out = 1, audio_in = -1, audio_out = -1 } }
end

function dsp_init (rate)
	-- [0] note-ons, [1] all MIDI events, [2] note-offs, [3] keys kept, [4..67] first note-on keys
	self:shmem ():allocate (68)
	for i = 0, 3 do self:shmem ():atomic_set_int (i, 0) end
end

function dsp_configure (ins, outs) n_out = outs end

function dsp_runmap (bufs, in_map, out_map, n_samples, offset)
	ARDOUR.DSP.process_map (bufs, n_out, in_map, out_map, n_samples, offset)
	local ob = out_map:get (ARDOUR.DataType ("midi"), 0)
	if ob == ARDOUR.ChanMapping.Invalid then return end
	local shm = self:shmem ()
	local non, noff, nev = 0, 0, 0
	for _, e in pairs (bufs:get_midi (ob):table ()) do
		nev = nev + 1
		if e:size () == 3 then
			local d = e:buffer ():array ()
			local kind = d[1] & 0xf0
			if kind == 0x90 and d[3] > 0 then
				non = non + 1
				local kept = shm:atomic_get_int (3)
				if kept < 64 then
					shm:atomic_set_int (4 + kept, d[2])
					shm:atomic_set_int (3, kept + 1)
				end
			elseif kind == 0x80 or kind == 0x90 then
				noff = noff + 1
			end
		end
	end
	if nev > 0 then
		shm:atomic_set_int (0, shm:atomic_get_int (0) + non)
		shm:atomic_set_int (1, shm:atomic_get_int (1) + nev)
		shm:atomic_set_int (2, shm:atomic_get_int (2) + noff)
	end
end
EOF

# ---------------------------------------------------------------- session script
cat > "$TMP/session.lua" <<'EOF'
local tmp        = os.getenv ("TEST_TMP")
local midi_path  = os.getenv ("TEST_MIDI")
local plug_name  = os.getenv ("TEST_PLUGIN")
local roll_secs  = tonumber (os.getenv ("TEST_ROLL_SECONDS"))
local speed      = os.getenv ("TEST_DUMMY_SPEED")
local script_dir = os.getenv ("HOME") .. "/.config/ardour7/scripts"
local RATE       = 48000

local function fail (tag, msg) print (tag .. ": " .. msg); io.stdout:flush () end

---------------------------------------------------------------- (a) parse the SMF
-- returns sorted list of {sec, status, d1, d2} for note on/off of all tracks
local function parse_smf (path)
	local f = assert (io.open (path, "rb")); local s = f:read ("a"); f:close ()
	local function u32 (p) return (s:byte (p) << 24) | (s:byte (p+1) << 16) | (s:byte (p+2) << 8) | s:byte (p+3) end
	local function u16 (p) return (s:byte (p) << 8) | s:byte (p+1) end
	assert (s:sub (1, 4) == "MThd", "not a standard MIDI file")
	local ntrk, div = u16 (11), u16 (13)
	assert (div & 0x8000 == 0, "SMPTE time division not supported")
	local pos = 9 + u32 (5)
	local raw, tempos = {}, { { 0, 500000 } }
	for _ = 1, ntrk do
		if pos + 7 > #s or s:sub (pos, pos+3) ~= "MTrk" then break end
		local len = u32 (pos + 4); local p, e = pos + 8, pos + 8 + len
		local tick, rs = 0, nil
		local function vlq () local v = 0; repeat local b = s:byte (p); p = p + 1; v = (v << 7) | (b & 0x7f) until b < 0x80; return v end
		while p < e do
			tick = tick + vlq ()
			local st = s:byte (p)
			if st >= 0x80 then p = p + 1; if st < 0xf0 then rs = st end else st = rs end
			if st == 0xff then
				local mt = s:byte (p); p = p + 1
				local l = vlq ()
				if mt == 0x51 and l == 3 then tempos[#tempos+1] = { tick, (s:byte (p) << 16) | (s:byte (p+1) << 8) | s:byte (p+2) } end
				p = p + l
			elseif st == 0xf0 or st == 0xf7 then
				p = p + vlq ()
			else
				local hi = st & 0xf0
				local n = (hi == 0xc0 or hi == 0xd0) and 1 or 2
				if hi == 0x80 or hi == 0x90 then raw[#raw+1] = { tick, st, s:byte (p), s:byte (p+1) } end
				p = p + n
			end
		end
		pos = e
	end
	table.sort (tempos, function (a, b) return a[1] < b[1] end)
	local function t2s (t)
		local sec, lt, us = 0, 0, 500000
		for _, tp in ipairs (tempos) do
			if tp[1] >= t then break end
			sec = sec + (tp[1] - lt) * us / div / 1e6; lt, us = tp[1], tp[2]
		end
		return sec + (t - lt) * us / div / 1e6
	end
	local ev = {}
	for i, r in ipairs (raw) do ev[i] = { t2s (r[1]), r[2], r[3], r[4], i } end
	-- note-off before note-on at the same time, otherwise keep file order
	table.sort (ev, function (a, b)
		if a[1] ~= b[1] then return a[1] < b[1] end
		local ao, bo = (a[2] & 0xf0) == 0x80 or a[4] == 0, (b[2] & 0xf0) == 0x80 or b[4] == 0
		if ao ~= bo then return ao end
		return a[5] < b[5] end)
	return ev
end

local ok, events = pcall (parse_smf, midi_path)
if not ok then fail ("MIDI_PARSE_FAILED", tostring (events)); quit (); return end
local n_on_file, n_on_window = 0, 0
for _, e in ipairs (events) do
	if (e[2] & 0xf0) == 0x90 and e[4] > 0 then
		n_on_file = n_on_file + 1
		if e[1] < roll_secs then n_on_window = n_on_window + 1 end
	end
end
print (string.format ("midi_file %s: %d note events, %d note-ons, %d note-ons within the first %gs, length %.2fs",
	midi_path, #events, n_on_file, n_on_window, roll_secs, #events > 0 and events[#events][1] or 0))

---------------------------------------------------------------- (b) Lua DSP "player" with the file baked in
-- Emits the file's note events at their session-time position while the transport rolls
-- (MIDI buffer content coming from the track is replaced).
do
	local rows = {}
	-- only events inside the rolled window, so that the counts are deterministic
	-- (the roll is stopped by polling and overshoots by up to ~1s of session time)
	for _, e in ipairs (events) do
		if e[1] < roll_secs then rows[#rows+1] = string.format ("{%.9f,%d,%d,%d}", e[1], e[2], e[3], e[4]) end
	end
	local f = assert (io.open (script_dir .. "/zz_test_midi_player.lua", "w"))
	f:write ([[
ardour { ["type"] = "dsp", name = "ZZ Test MIDI Player", category = "Utility",
         license = "MIT", author = "test", description = [=[plays a baked-in MIDI sequence]=] }
local ev = {
]] .. table.concat (rows, ",\n") .. [[

}
local ts = {}
local idx, last_end = 1, -1
function dsp_ioconfig ()
	return { { midi_in = 1, midi_out = 1, audio_in = -1, audio_out = -1 } }
end
function dsp_init (rate)
	for i, e in ipairs (ev) do ts[i] = math.floor (e[1] * rate + 0.5) end
	bv = C.ByteVector ()
	self:shmem ():allocate (1)
	self:shmem ():atomic_set_int (0, 0)
end
function dsp_configure (ins, outs) n_out = outs end
function dsp_runmap (bufs, in_map, out_map, n_samples, offset)
	ARDOUR.DSP.process_map (bufs, n_out, in_map, out_map, n_samples, offset)
	local ob = out_map:get (ARDOUR.DataType ("midi"), 0)
	if ob == ARDOUR.ChanMapping.Invalid then return end
	local mb = bufs:get_midi (ob)
	mb:silence (n_samples, offset)
	if not Session:transport_rolling () then return end
	local s0 = Session:transport_sample () + offset
	local s1 = s0 + n_samples
	if s0 < last_end then idx = 1 end -- relocated backwards
	last_end = s1
	while idx <= #ev and ts[idx] < s0 do idx = idx + 1 end
	local sent = 0
	while idx <= #ev and ts[idx] < s1 do
		local e = ev[idx]
		bv:clear ()
		bv:add ({ e[2], e[3], e[4] })
		mb:push_back (ts[idx] - s0 + offset, Evoral.EventType.MIDI_EVENT, 3, bv:to_array ())
		idx = idx + 1
		sent = sent + 1
	end
	if sent > 0 then self:shmem ():atomic_set_int (0, self:shmem ():atomic_get_int (0) + sent) end
end
]])
	f:close ()
end

---------------------------------------------------------------- (c) engine + session
local be = AudioEngine:set_backend ("None (Dummy)", "", "")
if be:isnil () then fail ("ENGINE_FAILED", "cannot instantiate Dummy backend"); quit (); return end
be:set_driver (speed) -- "10x Speed": Dummy backend runs faster than real time

local sess = create_session (tmp .. "/session", "sintra_test", RATE)
if not sess then fail ("SESSION_FAILED", "create_session failed"); quit (); return end

local tl = Session:new_midi_track (
	ARDOUR.ChanCount (ARDOUR.DataType ("midi"), 1), ARDOUR.ChanCount (ARDOUR.DataType ("audio"), 2),
	false, ARDOUR.PluginInfo (), nil, nil, 1, "SinTraTest", ARDOUR.PresentationInfo.max_order,
	ARDOUR.TrackMode.Normal, true)
if tl:size () ~= 1 then fail ("SESSION_FAILED", "cannot create MIDI track"); close_session (); quit (); return end
local track = tl:front ()

local player  = ARDOUR.LuaAPI.new_luaproc (Session, "ZZ Test MIDI Player")
local cnt_in  = ARDOUR.LuaAPI.new_luaproc (Session, "ZZ Test Note Counter")
local plugin  = ARDOUR.LuaAPI.new_plugin (Session, plug_name, ARDOUR.PluginType.VST3, "")
local cnt_out = ARDOUR.LuaAPI.new_luaproc (Session, "ZZ Test Note Counter")

if plugin:isnil () then
	fail ("PLUGIN_LOAD_FAILED", "ARDOUR.LuaAPI.new_plugin could not instantiate VST3 '" .. plug_name .. "'")
	close_session (); quit (); return
end
if player:isnil () or cnt_in:isnil () or cnt_out:isnil () then
	fail ("SETUP_FAILED", "could not instantiate the helper Lua DSP scripts"); close_session (); quit (); return
end

-- index counts only user-visible processors (Fader is the first), so 0..3 puts them pre-fader in order
local procs = { player, cnt_in, plugin, cnt_out }
for i, p in ipairs (procs) do
	local rv = track:add_processor_by_index (p, i - 1, nil, true)
	if rv ~= 0 then
		fail (p == plugin and "PLUGIN_LOAD_FAILED" or "SETUP_FAILED",
			"add_processor_by_index failed for " .. p:display_name () .. " (rv=" .. rv .. ")")
		close_session (); quit (); return
	end
end

local pi = plugin:to_insert ()
local pl = pi:plugin (0)

-- parameter overrides: TEST_PARAMS="MIDI thru=0;Capture bars=4". Each is read back: a value
-- that did not take is a failure, not a warning.
for kv in string.gmatch (os.getenv ("TEST_PARAMS") or "", "[^;]+") do
	local k, v = kv:match ("^%s*(.-)%s*=%s*([-%d.]+)%s*$")
	local found = false
	for n = 0, pl:parameter_count () - 1 do
		if k and pl:parameter_is_input (n) and pl:parameter_label (n) == k then
			local ok = ARDOUR.LuaAPI.set_processor_param (plugin, n, tonumber (v))
			local now = ARDOUR.LuaAPI.get_plugin_insert_param (pi, n, false)
			print (string.format ("set_param %s = %s -> %s (reads %s)", k, v, tostring (ok), tostring (now)))
			found = ok and math.abs (now - tonumber (v)) < 1e-6
		end
	end
	if not found then
		fail ("PARAM_FAILED", "parameter '" .. kv .. "' did not take effect")
		close_session (); quit (); return
	end
end
print (string.format ("plugin_loaded name=%s maker=%s params=%d midi_in=%d midi_out=%d audio_in=%d audio_out=%d active=%s",
	pl:name (), pl:maker (), pl:parameter_count (), pi:input_streams ():n_midi (), pi:output_streams ():n_midi (),
	pi:input_streams ():n_audio (), pi:output_streams ():n_audio (), tostring (plugin:active ())))
-- the first parameters only: SinTra's own (the MIDI CC parameters VST3 needs come after them)
for i = 0, math.min (pl:parameter_count (), 20) - 1 do
	if pl:parameter_is_input (i) then
		io.write (string.format ("  param %2d %-20s = %s\n", i, pl:parameter_label (i),
			tostring (ARDOUR.LuaAPI.get_plugin_insert_param (pi, i, false))))
	end
end
local chain = {}
local i = 0
while true do
	local pr = track:nth_processor (i); if pr:isnil () then break end
	chain[#chain+1] = pr:display_name (); i = i + 1
end
print ("chain: " .. table.concat (chain, " -> "))

if pi:output_streams ():n_midi () < 1 then
	fail ("PLUGIN_LOAD_FAILED", "plugin insert has no MIDI output"); close_session (); quit (); return
end

---------------------------------------------------------------- (d) roll
local function shm (p, k) return p:to_insert ():plugin (0):to_luaproc ():shmem ():atomic_get_int (k) end

Session:request_locate (0, false, ARDOUR.LocateTransportDisposition.MustStop, ARDOUR.TransportRequestSource.TRS_UI)
sleep (0.2)
Session:request_roll (ARDOUR.TransportRequestSource.TRS_UI)
local target = math.floor (roll_secs * RATE)
local t0 = os.time ()
local started = false
while true do
	sleep (0.1)
	if Session:transport_rolling () then started = true end
	if Session:transport_sample () >= target then break end
	if os.time () - t0 > 90 then print ("WARNING: wall-clock limit hit while rolling"); break end
end
Session:request_stop (false, false, ARDOUR.TransportRequestSource.TRS_UI)
sleep (0.3)

print (string.format ("rolled to sample %d (%.2fs session time), transport_started=%s",
	Session:transport_sample (), Session:transport_sample () / RATE, tostring (started)))
print (string.format ("player_sent %d (note-ons expected %d)", shm (player, 0), n_on_window))
print (string.format ("notes_in %d", shm (cnt_in, 0)))
print (string.format ("midi_events_out %d", shm (cnt_out, 1)))
print (string.format ("notes_out %d", shm (cnt_out, 0)))
print (string.format ("noteoffs_in %d", shm (cnt_in, 2)))
print (string.format ("noteoffs_out %d", shm (cnt_out, 2)))
local function keys (p)
	local t = {}
	for i = 1, shm (p, 3) do t[i] = tostring (shm (p, 3 + i)) end
	return table.concat (t, ",")
end
print ("keys_in " .. keys (cnt_in))
print ("keys_out " .. keys (cnt_out))
io.stdout:flush ()

procs, player, cnt_in, cnt_out, plugin, pi, pl, track, tl = nil
collectgarbage ()
close_session ()
quit ()
EOF

# ---------------------------------------------------------------- run
export TEST_TMP=$TMP TEST_MIDI=$(readlink -f "$MIDI") TEST_PLUGIN=$PLUGIN_NAME \
       TEST_ROLL_SECONDS=$ROLL_SECONDS TEST_DUMMY_SPEED=$DUMMY_SPEED TEST_PARAMS=${PLUGIN_PARAMS:-}
START=$(date +%s%N)
timeout -k 5 110 ardour7-lua "$TMP/session.lua" >"$TMP/ardour.log" 2>&1
RC=$?
END=$(date +%s%N)

if [[ "${VERBOSE:-0}" == 1 ]]; then
  cat "$TMP/ardour.log"
else
  grep -E '^(midi_file|plugin_loaded|set_param|  param|chain:|rolled|player_sent|notes_in|midi_events_out|notes_out|noteoffs_|keys_|WARNING|[A-Z_]+_FAILED|Error)' "$TMP/ardour.log"
fi
MS=$(( (END - START) / 1000000 ))
printf 'ardour7-lua exit=%d, wall %d.%03ds\n' "$RC" $((MS / 1000)) $((MS % 1000))

if grep -q '^PLUGIN_LOAD_FAILED' "$TMP/ardour.log"; then
  echo "RESULT: FAIL - plugin '$PLUGIN_NAME' did not load"; exit 2
fi
if grep -q '^PARAM_FAILED' "$TMP/ardour.log"; then
  echo "RESULT: FAIL - a parameter change did not take effect"; exit 1
fi
if ! grep -q '^plugin_loaded' "$TMP/ardour.log"; then
  [[ "${VERBOSE:-0}" == 1 ]] || tail -n 30 "$TMP/ardour.log"
  echo "RESULT: FAIL - session setup did not complete (rc=$RC)"; exit 1
fi
N=$(sed -n 's/^notes_out \([0-9]\+\)$/\1/p' "$TMP/ardour.log" | tail -n1)
if [[ -n "$N" && "$N" -gt 0 ]]; then
  echo "RESULT: PASS (notes_out $N)"; exit 0
fi
echo "RESULT: FAIL - plugin loaded but no note-on events came out (notes_out ${N:-?})"; exit 1
