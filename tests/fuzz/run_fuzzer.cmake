# Runs one libFuzzer target for a bounded time (the CTest command of each
# fuzz test, see LB_FUZZ in CMakeLists.txt):
#   cmake -DFUZZER=exe -DSEEDS=dir -DCORPUS=dir -DARTIFACTS=dir [-DDICT=file]
#         -DSECONDS=n -P run_fuzzer.cmake
# The seeds are copied into CORPUS (a build-tree folder that keeps what the
# fuzzer finds between runs); the source tree is only read.  Fails when the
# fuzzer exits non-zero: a crash, leak, sanitizer report or timeout, whose
# reproducer is written to ARTIFACTS.
foreach(v FUZZER SEEDS CORPUS ARTIFACTS SECONDS)
  if(NOT DEFINED ${v} OR "${${v}}" STREQUAL "")
    message(FATAL_ERROR "run_fuzzer.cmake: -D${v}= is required")
  endif()
endforeach()
file(MAKE_DIRECTORY "${CORPUS}" "${ARTIFACTS}")
if(IS_DIRECTORY "${SEEDS}")
  file(GLOB seeds "${SEEDS}/*")
  if(seeds)
    file(COPY ${seeds} DESTINATION "${CORPUS}")
  endif()
endif()
set(args -max_total_time=${SECONDS} -rss_limit_mb=2048 -timeout=60
  -print_final_stats=1 -artifact_prefix=${ARTIFACTS}/)
if(DICT)
  list(APPEND args -dict=${DICT})
endif()
message(STATUS "${FUZZER} ${args} ${CORPUS}")
execute_process(COMMAND "${FUZZER}" ${args} "${CORPUS}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(GLOB found "${ARTIFACTS}/*")
  message(FATAL_ERROR "fuzzer failed (exit ${rc}); reproducers: ${found}")
endif()
