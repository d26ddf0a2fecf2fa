# One place for compiler flags shared by every porthole target.
add_library(porthole_flags INTERFACE)
target_compile_options(porthole_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wnull-dereference -Wformat=2 -Wimplicit-fallthrough)
if(PORTHOLE_WERROR)
  target_compile_options(porthole_flags INTERFACE -Werror)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 false positives in libstdc++/Asio headers at -O2.
  target_compile_options(porthole_flags INTERFACE -Wno-maybe-uninitialized
    -Wno-array-bounds -Wno-stringop-overflow -Wno-restrict -Wno-null-dereference -Wno-mismatched-new-delete)
endif()
target_compile_definitions(porthole_flags INTERFACE
  BOOST_ASIO_NO_DEPRECATED BOOST_ASIO_DISABLE_BOOST_COROUTINE)
if(PORTHOLE_SANITIZE)
  target_compile_options(porthole_flags INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)
  target_link_options(porthole_flags INTERFACE -fsanitize=address,undefined)
endif()
