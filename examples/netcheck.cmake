# examples/netcheck_verdict: netcheck's verdict through the library, built
# as a library user would build it (the shared library, public headers;
# libuv's header needs the POSIX types that strict C11 hides).
add_executable(netcheck_verdict
  ${CMAKE_CURRENT_LIST_DIR}/netcheck_verdict.c)
target_compile_definitions(netcheck_verdict PRIVATE _GNU_SOURCE)
target_link_libraries(netcheck_verdict PRIVATE nat::nat)
nat_target_warnings(netcheck_verdict)
