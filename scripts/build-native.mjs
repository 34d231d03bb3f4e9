// Builds the native parts (native/*.c) with the machine's cc at install time. Filled in with native/.
console.log('build-native: nothing to build yet');
